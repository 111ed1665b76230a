package dev.bulkfhir.server.cli;

import dev.bulkfhir.server.audit.AuditSettings;
import java.time.Duration;

import dev.bulkfhir.providers.binary.BinaryAccessSettings;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.providers.ServerBase;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run the FHIR server (the default command).")
final class ServeCommand implements Callable<Integer> {

    @Mixin
    StorageOptions storage;

    @Mixin
    AuthOptions auth;

    @Mixin
    OpsOptions ops;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--base-path", defaultValue = "/fhir", description = "Path of the FHIR base (default: ${DEFAULT-VALUE}).")
    String basePath;

    @Option(names = "--base-url", paramLabel = "URL",
            description = "The public FHIR base URL clients use, e.g. https://fhir.example.org/fhir behind a proxy:"
                    + " token audience, discovery document, status, manifest and Location URLs name it"
                    + " (default: http://HOST:PORT/BASE-PATH with the port actually bound; never the request's Host).")
    String baseUrl;

    @Option(names = "--demo", defaultValue = "false", fallbackValue = "true", arity = "0..1",
            description = "Fill an empty database with a synthetic demo population at start.")
    boolean demo;

    @Option(names = "--demo-patients", defaultValue = "100", description = "Patients in the demo population (default: ${DEFAULT-VALUE}).")
    int demoPatients;

    @Option(names = "--demo-seed", defaultValue = "1", description = "Seed of the demo generator (default: ${DEFAULT-VALUE}).")
    long demoSeed;

    @Option(names = "--binary-inline-threshold", paramLabel = "BYTES", defaultValue = "65536",
            description = "Binary content up to this size stays in the database, larger goes to the file store"
                    + " (default: ${DEFAULT-VALUE}, at most 1048576).")
    int binaryInlineThreshold;

    @Option(names = "--binary-max-wrapped", paramLabel = "BYTES", defaultValue = "10485760",
            description = "The most content a wrapped (base64) Binary read or FHIR-format upload may carry"
                    + " (default: ${DEFAULT-VALUE}).")
    long binaryMaxWrapped;

    @Option(names = "--max-request-body", paramLabel = "BYTES", defaultValue = "8388608",
            description = "The largest request body taken; larger gets 413. Binary uploads are not bound by it (raw"
                    + " ones are streamed, FHIR-format ones bound by --binary-max-wrapped) (default: ${DEFAULT-VALUE}).")
    long maxRequestBody;

    @Option(names = "--export-workers", paramLabel = "N",
            description = "Threads writing export files (default: the number of cores, at most 4).")
    Integer exportWorkers;

    @Option(names = "--export-max-jobs-per-client", paramLabel = "N", defaultValue = "4",
            description = "Exports one client may have waiting or running at once; more get 429 (default: ${DEFAULT-VALUE}).")
    int exportMaxJobsPerClient;

    @Option(names = "--export-max-jobs", paramLabel = "N", defaultValue = "16",
            description = "Exports all clients may have waiting or running at once; more get 429 (default: ${DEFAULT-VALUE}).")
    int exportMaxJobs;

    @Option(names = "--export-file-max-resources", paramLabel = "N", defaultValue = "100000",
            description = "Resources per export file before the next file begins (default: ${DEFAULT-VALUE}).")
    long exportFileMaxResources;

    @Option(names = "--export-file-max-mb", paramLabel = "MB", defaultValue = "512",
            description = "Size of an export file before the next file begins (default: ${DEFAULT-VALUE}).")
    long exportFileMaxMb;

    @Option(names = "--export-range-resources", paramLabel = "N", defaultValue = "50000",
            description = "A resource type with more resources than this is split into key ranges of about this many,"
                    + " exported in parallel, each into files of its own (default: ${DEFAULT-VALUE}).")
    long exportRangeResources;

    @Option(names = "--export-manifest-page-size", paramLabel = "N", defaultValue = "100",
            description = "Files per manifest page for a kickoff with allowPartialManifests=true (default: ${DEFAULT-VALUE}).")
    int exportManifestPageSize;

    @Option(names = "--export-retention", paramLabel = "DURATION", defaultValue = "24h",
            description = "How long finished exports stay downloadable, e.g. 24h, 90m, 7d (default: ${DEFAULT-VALUE}).")
    String exportRetention;

    @Option(names = "--export-default-since", paramLabel = "DURATION",
            description = "Without _since, export only what changed in this window before the kickoff, e.g. 24h"
                    + " (default: all data, as the Bulk Data IG asks).")
    String exportDefaultSince;

    @Option(names = "--export-lease", paramLabel = "DURATION", defaultValue = "30s",
            description = "When a node dies, another node on the same database resumes its running exports within"
                    + " this time, e.g. 30s, 1m; at least 3s (default: ${DEFAULT-VALUE}).")
    String exportLease;

    @Option(names = "--audit", paramLabel = "on|off", defaultValue = "on",
            description = "Record the audit trail (tokens, exports, downloads, Binary reads, refusals) as AuditEvents"
                    + " searchable by an admin scope (default: ${DEFAULT-VALUE}).")
    String audit;

    @Option(names = "--audit-retention", paramLabel = "DURATION", defaultValue = "90d",
            description = "How long audit events are kept before they are purged, e.g. 90d, 12h (default: ${DEFAULT-VALUE}).")
    String auditRetention;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        ops.logFormat.apply();
        ServerSettings settings = settings();
        StandaloneServer server = new StandaloneServer(settings).start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("Stopping: finishing requests in flight, closing the database.");
            try {
                server.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "shutdown"));
        System.out.println();
        System.out.println("Bulk FHIR is serving FHIR R4 at " + server.listeningUrl());
        if (!server.baseUrl().equals(server.listeningUrl())) {
            System.out.println("  public base URL: " + server.baseUrl() + " (--base-url: links and token audience)");
        }
        System.out.println("  port:  " + server.port());
        System.out.println("  data:  " + storage.describe());
        System.out.println("  files: " + settings.storage().describe(settings.dataDir()));
        System.out.println("  try:   curl " + server.listeningUrl() + "/metadata");
        if (server.redirectPort() >= 0) {
            System.out.println("  http:  port " + server.redirectPort() + " redirects to HTTPS");
        }
        if (server.opsPort() >= 0) {
            System.out.println("  ops:   /metrics and /health/* on port " + server.opsPort());
        }
        auth.printBanner(server, demo, System.out);
        System.out.println("Stop with Ctrl+C (SIGTERM also shuts down cleanly).");
        stopped.await();
        return 0;
    }

    /** The one place flags, environment and config file (resolved by picocli and {@link SettingsSource}) become settings. */
    ServerSettings settings() {
        return ServerSettings.builder(storage.dataDir)
                .host(host).port(port).basePath(basePath).baseUrl(publicBaseUrl()).maxRequestBody(maxRequestBody)
                .jdbc(blankToNull(storage.jdbcUrl), storage.jdbcUser, storage.jdbcPassword)
                .demo(new ServerSettings.Demo(demo, demoPatients, demoSeed))
                .auth(auth.settings())
                .export(exportSettings())
                .binary(new BinaryAccessSettings(binaryMaxWrapped))
                .storage(storage.storageSettings().withBinaryInlineThreshold(binaryInlineThreshold))
                .ops(ops.settings())
                .audit(auditSettings())
                .build();
    }

    private ExportSettings exportSettings() {
        ExportSettings defaults = ExportSettings.defaults();
        return new ExportSettings(exportWorkers != null ? exportWorkers : defaults.workers(), exportMaxJobsPerClient,
                exportMaxJobs, exportFileMaxResources, exportFileMaxMb * 1024 * 1024,
                ExportSettings.parseDuration(exportRetention), ExportSettings.parseDuration(exportDefaultSince),
                ExportSettings.parseDuration(exportLease), exportRangeResources, exportManifestPageSize);
    }

    private AuditSettings auditSettings() {
        boolean on = switch (audit.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "on", "true" -> true;
            case "off", "false" -> false;
            default -> throw new ParameterException(spec.commandLine(), "--audit: on or off, not " + audit);
        };
        Duration retention;
        try {
            retention = ExportSettings.parseDuration(auditRetention);
            return new AuditSettings(on, retention);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--audit-retention: " + e.getMessage());
        }
    }

    private String publicBaseUrl() {
        if (baseUrl == null || baseUrl.isBlank()) {
            return null;
        }
        try {
            return ServerBase.fixed(baseUrl.trim()).url();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--base-url: " + e.getMessage());
        }
    }

    private static String blankToNull(String text) {
        return text == null || text.isBlank() ? null : text;
    }
}
