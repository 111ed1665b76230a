package dev.bulkfhir.server;

import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.auth.AuthSettings;

import dev.bulkfhir.storage.Database;

import java.nio.file.Path;

/**
 * Everything the standalone server needs to start, already resolved from flags, environment
 * and config file (see {@code cli.ServeCommand}).
 *
 * @param port      0 picks any free port
 * @param basePath  where FHIR is served, e.g. {@code /fhir}
 * @param jdbcUrl   null: the H2 file database under {@code dataDir}
 * @param auth      SMART Backend Services; {@link #defaults} has it off, the command line on
 * @param export    Bulk Data export: workers, limits, file size, retention; null: the defaults
 * @param binary    where Binary content is kept and how much a wrapped read may carry; null: the defaults
 * @param baseUrl   the public FHIR base URL clients use (token audience, links); null:
 *                  {@code http://host:port/basePath} with the port actually bound
 * @param maxRequestBody the largest request body taken, in bytes (Binary uploads excepted: raw ones are
 *                  streamed to the file store, FHIR-format ones bound by {@code binary}); 0: {@link #DEFAULT_MAX_REQUEST_BODY}
 * @param storage   where export files and large Binary content go; null: under {@code dataDir}
 */
public record ServerSettings(
        String host,
        int port,
        String basePath,
        Path dataDir,
        String jdbcUrl,
        String jdbcUser,
        String jdbcPassword,
        boolean demo,
        int demoPatients,
        long demoSeed,
        AuthSettings auth,
        ExportSettings export,
        BinarySettings binary,
        String baseUrl,
        long maxRequestBody,
        StorageSettings storage) {

    /**
     * 8 MiB. HAPI holds a parsed resource in up to about 30 times its JSON size (a Patient of 16 MiB of
     * one-letter names exhausts a 512 MiB heap; one of 8 MiB parses in it).
     */
    public static final long DEFAULT_MAX_REQUEST_BODY = 8L * 1024 * 1024;

    /** Without auth settings: auth off. */
    public ServerSettings(String host, int port, String basePath, Path dataDir, String jdbcUrl, String jdbcUser,
            String jdbcPassword, boolean demo, int demoPatients, long demoSeed) {
        this(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients, demoSeed,
                AuthSettings.off());
    }

    /** With the default export settings. */
    public ServerSettings(String host, int port, String basePath, Path dataDir, String jdbcUrl, String jdbcUser,
            String jdbcPassword, boolean demo, int demoPatients, long demoSeed, AuthSettings auth) {
        this(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients, demoSeed, auth, null);
    }

    /** With the default Binary settings. */
    public ServerSettings(String host, int port, String basePath, Path dataDir, String jdbcUrl, String jdbcUser,
            String jdbcPassword, boolean demo, int demoPatients, long demoSeed, AuthSettings auth,
            ExportSettings export) {
        this(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients, demoSeed, auth, export,
                null);
    }

    /** With the base URL from host, port and base path, and the default request body limit. */
    public ServerSettings(String host, int port, String basePath, Path dataDir, String jdbcUrl, String jdbcUser,
            String jdbcPassword, boolean demo, int demoPatients, long demoSeed, AuthSettings auth,
            ExportSettings export, BinarySettings binary) {
        this(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients, demoSeed, auth, export,
                binary, null, 0);
    }

    /** With the storage under the data directory. */
    public ServerSettings(String host, int port, String basePath, Path dataDir, String jdbcUrl, String jdbcUser,
            String jdbcPassword, boolean demo, int demoPatients, long demoSeed, AuthSettings auth,
            ExportSettings export, BinarySettings binary, String baseUrl, long maxRequestBody) {
        this(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients, demoSeed, auth, export,
                binary, baseUrl, maxRequestBody, null);
    }

    public ServerSettings {
        if (auth == null) {
            auth = AuthSettings.off();
        }
        if (export == null) {
            export = ExportSettings.defaults();
        }
        if (binary == null) {
            binary = BinarySettings.defaults();
        }
        if (maxRequestBody < 0) {
            throw new IllegalArgumentException("The request body limit must not be negative, not " + maxRequestBody);
        }
        if (maxRequestBody == 0) {
            maxRequestBody = DEFAULT_MAX_REQUEST_BODY;
        }
        if (storage == null) {
            storage = StorageSettings.dataDirectory();
        }
    }

    public static ServerSettings defaults(Path dataDir) {
        return new ServerSettings("127.0.0.1", 0, "/fhir", dataDir, null, null, null, false, 0, 1L);
    }

    public ServerSettings withBaseUrl(String newBaseUrl) {
        return new ServerSettings(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients,
                demoSeed, auth, export, binary, newBaseUrl, maxRequestBody, storage);
    }

    public String effectiveJdbcUrl() {
        return jdbcUrl != null ? jdbcUrl : Database.h2Url(dataDir);
    }

    public String normalizedBasePath() {
        String path = basePath == null || basePath.isBlank() ? "/" : basePath.trim();
        if (!path.startsWith("/")) path = "/" + path;
        while (path.length() > 1 && path.endsWith("/")) path = path.substring(0, path.length() - 1);
        return path;
    }

    public ServerSettings withPort(int newPort) {
        return new ServerSettings(host, newPort, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo,
                demoPatients, demoSeed, auth, export, binary, baseUrl, maxRequestBody, storage);
    }

    public ServerSettings withDemo(int patients) {
        return new ServerSettings(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, true, patients,
                demoSeed, auth, export, binary, baseUrl, maxRequestBody, storage);
    }

    public ServerSettings withAuth(AuthSettings newAuth) {
        return new ServerSettings(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients,
                demoSeed, newAuth, export, binary, baseUrl, maxRequestBody, storage);
    }

    public ServerSettings withExport(ExportSettings newExport) {
        return new ServerSettings(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients,
                demoSeed, auth, newExport, binary, baseUrl, maxRequestBody, storage);
    }

    public ServerSettings withStorage(StorageSettings newStorage) {
        return new ServerSettings(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients,
                demoSeed, auth, export, binary, baseUrl, maxRequestBody, newStorage);
    }

    public ServerSettings withMaxRequestBody(long bytes) {
        return new ServerSettings(host, port, basePath, dataDir, jdbcUrl, jdbcUser, jdbcPassword, demo, demoPatients,
                demoSeed, auth, export, binary, baseUrl, bytes, storage);
    }
}
