package dev.bulkfhir.server;

import dev.bulkfhir.providers.binary.BinaryAccessSettings;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.audit.AuditSettings;
import dev.bulkfhir.server.ops.OpsSettings;
import dev.bulkfhir.storage.Database;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Everything the standalone server needs to start, resolved once from flags, environment and config
 * file ({@code cli.ServeCommand}); one part per area. Build it with {@link #builder}, change a copy
 * with {@link #toBuilder}. A part left null takes its defaults.
 *
 * @param dataDir   this node's own directory: the H2 database, the node id and, by default, the file store
 * @param host      the address to listen on
 * @param port      0 picks any free port
 * @param basePath  where FHIR is served, e.g. {@code /fhir}
 * @param baseUrl   the public FHIR base URL clients use (token audience, links); null:
 *                  {@code http://host:port/basePath} with the port actually bound
 * @param maxRequestBody the largest request body taken, in bytes (Binary uploads excepted: raw ones are
 *                  streamed to the file store, FHIR-format ones bound by {@code binary}); 0: {@link #DEFAULT_MAX_REQUEST_BODY}
 * @param jdbc      the database; its url null: the H2 file database under {@code dataDir}
 * @param demo      synthetic data put into an empty database at start
 * @param auth      SMART Backend Services; {@link #defaults} has it off, the command line on
 * @param export    Bulk Data export: workers, limits, file size, retention
 * @param binary    how much a wrapped Binary read or FHIR-format upload may carry
 * @param storage   where export files and large Binary content go, and what counts as large
 * @param ops       metrics, health, request log and TLS
 * @param audit     the audit trail
 */
public record ServerSettings(
        Path dataDir,
        String host,
        int port,
        String basePath,
        String baseUrl,
        long maxRequestBody,
        Jdbc jdbc,
        Demo demo,
        AuthSettings auth,
        ExportSettings export,
        BinaryAccessSettings binary,
        StorageSettings storage,
        OpsSettings ops,
        AuditSettings audit) {

    /**
     * 8 MiB. HAPI holds a parsed resource in up to about 30 times its JSON size (a Patient of 16 MiB of
     * one-letter names exhausts a 512 MiB heap; one of 8 MiB parses in it).
     */
    public static final long DEFAULT_MAX_REQUEST_BODY = 8L * 1024 * 1024;

    /** @param url null: the H2 file database under the data directory */
    public record Jdbc(String url, String user, String password) {
        static final Jdbc H2 = new Jdbc(null, null, null);
    }

    /** @param enabled fill an empty database with {@code patients} synthetic patients from {@code seed} */
    public record Demo(boolean enabled, int patients, long seed) {
        static final Demo OFF = new Demo(false, 0, 1L);
    }

    public ServerSettings {
        Objects.requireNonNull(dataDir, "dataDir");
        if (maxRequestBody < 0) {
            throw new IllegalArgumentException("The request body limit must not be negative, not " + maxRequestBody);
        }
        if (maxRequestBody == 0) {
            maxRequestBody = DEFAULT_MAX_REQUEST_BODY;
        }
        jdbc = jdbc != null ? jdbc : Jdbc.H2;
        demo = demo != null ? demo : Demo.OFF;
        auth = auth != null ? auth : AuthSettings.off();
        export = export != null ? export : ExportSettings.defaults();
        binary = binary != null ? binary : BinaryAccessSettings.defaults();
        storage = storage != null ? storage : StorageSettings.dataDirectory();
        ops = ops != null ? ops : OpsSettings.defaults();
        audit = audit != null ? audit : AuditSettings.defaults();
    }

    /** {@code 127.0.0.1}, any free port, {@code /fhir}, H2 under {@code dataDir}, auth off: for tests. */
    public static ServerSettings defaults(Path dataDir) {
        return builder(dataDir).build();
    }

    public static Builder builder(Path dataDir) {
        return new Builder(dataDir);
    }

    public Builder toBuilder() {
        return new Builder(dataDir).host(host).port(port).basePath(basePath).baseUrl(baseUrl)
                .maxRequestBody(maxRequestBody).jdbc(jdbc).demo(demo).auth(auth).export(export).binary(binary)
                .storage(storage).ops(ops).audit(audit);
    }

    public String effectiveJdbcUrl() {
        return jdbc.url() != null ? jdbc.url() : Database.h2Url(dataDir);
    }

    public String normalizedBasePath() {
        String path = basePath == null || basePath.isBlank() ? "/" : basePath.trim();
        if (!path.startsWith("/")) path = "/" + path;
        while (path.length() > 1 && path.endsWith("/")) path = path.substring(0, path.length() - 1);
        return path;
    }

    /** The one way to make or change settings; what is not set takes its default. */
    public static final class Builder {

        private final Path dataDir;
        private String host = "127.0.0.1";
        private int port;
        private String basePath = "/fhir";
        private String baseUrl;
        private long maxRequestBody;
        private Jdbc jdbc;
        private Demo demo;
        private AuthSettings auth;
        private ExportSettings export;
        private BinaryAccessSettings binary;
        private StorageSettings storage;
        private OpsSettings ops;
        private AuditSettings audit;

        private Builder(Path dataDir) {
            this.dataDir = dataDir;
        }

        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder basePath(String basePath) {
            this.basePath = basePath;
            return this;
        }

        public Builder baseUrl(String baseUrl) {
            this.baseUrl = baseUrl;
            return this;
        }

        public Builder maxRequestBody(long bytes) {
            this.maxRequestBody = bytes;
            return this;
        }

        public Builder jdbc(Jdbc jdbc) {
            this.jdbc = jdbc;
            return this;
        }

        public Builder jdbc(String url, String user, String password) {
            return jdbc(new Jdbc(url, user, password));
        }

        public Builder demo(Demo demo) {
            this.demo = demo;
            return this;
        }

        /** Demo data on: {@code patients} from seed 1. */
        public Builder demo(int patients) {
            return demo(new Demo(true, patients, 1L));
        }

        public Builder auth(AuthSettings auth) {
            this.auth = auth;
            return this;
        }

        public Builder export(ExportSettings export) {
            this.export = export;
            return this;
        }

        public Builder binary(BinaryAccessSettings binary) {
            this.binary = binary;
            return this;
        }

        public Builder storage(StorageSettings storage) {
            this.storage = storage;
            return this;
        }

        public Builder ops(OpsSettings ops) {
            this.ops = ops;
            return this;
        }

        public Builder audit(AuditSettings audit) {
            this.audit = audit;
            return this;
        }

        public ServerSettings build() {
            return new ServerSettings(dataDir, host, port, basePath, baseUrl, maxRequestBody, jdbc, demo, auth,
                    export, binary, storage, ops, audit);
        }
    }
}
