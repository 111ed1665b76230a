package dev.bulkfhir.providers;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.annotation.Operation;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.RestfulServer;
import dev.bulkfhir.providers.audit.AuditSink;
import dev.bulkfhir.providers.audit.AuditWriter;
import dev.bulkfhir.providers.auth.ClientAccess;
import dev.bulkfhir.providers.auth.SmartAuth;
import dev.bulkfhir.providers.binary.BinaryAccess;
import dev.bulkfhir.providers.binary.BinaryAccessSettings;
import dev.bulkfhir.providers.export.BulkExport;
import dev.bulkfhir.providers.export.ExportClient;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.binary.BinarySource;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.source.ResourceSource;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;

import javax.sql.DataSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Bulk FHIR in one piece, for any HAPI {@link RestfulServer}: Binary native and wrapped reads with
 * {@code $binary-access-read} and {@code $export-download}, Bulk Data export ({@code $export} at the
 * three levels, status, cancel, manifest, files) and bearer authorization.
 *
 * <pre>
 * BulkFhirPlugin plugin = BulkFhirPlugin.builder(fhirContext)
 *         .resources(source)                      // what export reads
 *         .dataDirectory(Path.of("/var/lib/bulk-fhir"))
 *         .auth(SmartAuth.tokens(clientsFile, keyFile, Duration.ofMinutes(5)))
 *         .baseUrl("https://fhir.example.org/fhir") // the public URL: with our own tokens, required
 *         .start();
 * plugin.install(restfulServer);                  // in initialize(), after the host's own providers
 * ...
 * plugin.close();                                 // when the server stops
 * </pre>
 *
 * One plugin installs into one server, once. It refuses (with an {@link IllegalStateException}
 * saying what to change) to install where it would shadow something the server already serves:
 * another provider for Binary when the plugin owns Binary, or the operations {@code $export},
 * {@code $export-poll-status}, {@code $binary-access-read} or {@code $export-download} (HAPI would
 * otherwise let the last registration win silently).
 */
public final class BulkFhirPlugin implements AutoCloseable {

    static final Set<String> OPERATIONS = Set.of("$export", "$export-poll-status", "$binary-access-read",
            "$export-download");

    private final Database ownDatabase;
    private final BulkExport export;
    private final BinaryAccess binaries;
    private final SmartAuth auth;
    private final ServerBase base;
    private final AuditSink audit;
    /** The default audit writer, which the plugin made and so closes; null for a sink the host gave. */
    private final AuditWriter ownAudit;
    private final MeterRegistry meters;
    private RestfulServer installedIn;

    private BulkFhirPlugin(Database ownDatabase, BulkExport export, BinaryAccess binaries, SmartAuth auth,
            ServerBase base, AuditSink audit, AuditWriter ownAudit, MeterRegistry meters) {
        this.meters = meters;
        this.ownDatabase = ownDatabase;
        this.audit = audit;
        this.ownAudit = ownAudit;
        this.export = export;
        this.binaries = binaries;
        this.auth = auth;
        this.base = base;
    }

    public static Builder builder(FhirContext context) {
        return new Builder(context);
    }

    /**
     * Registers the Binary provider (unless the host keeps Binary), the operations, the interceptors
     * and, with our own tokens, the token endpoint. Call it from {@code initialize()} after the host
     * registered its own providers (and its address strategy), or before the servlet starts.
     *
     * @throws IllegalStateException with our own tokens but no configured base URL (see
     *                               {@link Builder#baseUrl})
     */
    public synchronized void install(RestfulServer server) {
        if (installedIn != null) {
            throw new IllegalStateException("This Bulk FHIR plugin is already installed"
                    + (installedIn == server ? " in this server." : " in another server: build one plugin per server."));
        }
        ServerBase resolved = base.resolvedFor(server);
        auth.requireUsableBase(resolved);
        requireNoConflict(server);
        server.registerInterceptor(new AuditRefusals(audit));
        binaries.withSource(export.binarySource()).audit(audit).install(server);
        // Export checks the client itself (job owner, _type against the scopes, its own files): it sees the token's.
        export.identity(BulkFhirPlugin::exportClient);
        auth.interceptor().allowOperationForAnyClient("$export").allowOperationForAnyClient("$export-poll-status")
                .allowExportFiles((client, binaryId) -> export.binarySource().isReadOnly(binaryId));
        export.install(server, resolved);
        auth.install(server, resolved, audit, meters);
        installedIn = server;
    }

    /**
     * Export's view of the client the bearer interceptor admitted: the token's client id owns the jobs, its
     * read scopes bound the types (a named type it may not read is refused naming the scope it lacks), and
     * the manifest says a token is required whenever one was.
     */
    private static ExportClient exportClient(RequestDetails request) {
        ClientAccess access = ClientAccess.from(request);
        if (!access.authenticated()) {
            return ExportClient.ANONYMOUS;
        }
        Set<String> all = request.getFhirContext().getResourceTypes();
        List<String> readable = access.readableTypes(all);
        return new ExportClient(access.clientId(), readable.size() == all.size() ? null : Set.copyOf(readable), true,
                types -> {
                    if (types.isEmpty()) {
                        access.requireReadAny(all);
                    } else {
                        access.requireRead(types, "exporting");
                    }
                });
    }

    private void requireNoConflict(RestfulServer server) {
        List<Object> providers = new ArrayList<>(server.getResourceProviders());
        providers.addAll(server.getPlainProviders());
        for (Object provider : providers) {
            if (binaries.ownsBinary() && servesBinary(server, provider)) {
                throw new IllegalStateException("The server already has a provider for Binary ("
                        + provider.getClass().getName() + "). Either remove it, or keep it and give the plugin"
                        + " hostBinaries(...) so that it serves native reads of those Binaries instead.");
            }
            for (Method method : provider.getClass().getMethods()) {
                Operation operation = method.getAnnotation(Operation.class);
                if (operation == null) continue;
                String name = operation.name().startsWith("$") ? operation.name() : "$" + operation.name();
                if (OPERATIONS.contains(name)) {
                    throw new IllegalStateException("The server already serves " + name + " ("
                            + provider.getClass().getName() + "), which the plugin provides. Turn the server's own"
                            + " off (in HAPI JPA: bulk export and binary access) before installing the plugin,"
                            + " or install the plugin only once.");
                }
            }
        }
        if (!binaries.ownsBinary() && providers.stream().noneMatch(provider -> servesBinary(server, provider))) {
            throw new IllegalStateException("hostBinaries(...) leaves Binary to the server's own provider, but the"
                    + " server has none. Register it before installing the plugin, or drop hostBinaries(...) to let"
                    + " the plugin own Binary.");
        }
    }

    private static boolean servesBinary(RestfulServer server, Object provider) {
        return provider instanceof IResourceProvider resource
                && "Binary".equals(server.getFhirContext().getResourceType(resource.getResourceType()));
    }

    public SmartAuth auth() {
        return auth;
    }

    /** Where audit records go (see {@link Builder#audit}). */
    public AuditSink audit() {
        return audit;
    }

    /** When the export workers' claim loop last ran (every half second while they are alive); null before it first ran. */
    public Instant exportWorkersLastSeen() {
        return export.lastClaimPass();
    }

    /**
     * Stops the export workers (running jobs stay resumable), writes out the default audit log and
     * closes the plugin's own database, if any. A sink given to {@link Builder#audit} is the host's to close.
     */
    @Override
    public void close() {
        try {
            export.close();
        } finally {
            if (ownAudit != null) {
                ownAudit.close();
            }
            if (ownDatabase != null) {
                ownDatabase.close();
            }
        }
    }

    /** What the plugin is built from; {@link #resources}, {@link #dataDirectory} and {@link #auth} are required. */
    public static final class Builder {

        private final FhirContext context;
        private ResourceSource resources;
        private Path dataDirectory;
        private FileStore fileStore;
        private DataSource jobDatabase;
        private ResourceStore binaryStore;
        private BinarySource hostBinaries;
        private SmartAuth auth;
        private ServerBase base = ServerBase.fromServer();
        private ExportSettings exportSettings = ExportSettings.defaults();
        private BinaryAccessSettings binarySettings = BinaryAccessSettings.defaults();
        private AuditSink audit;
        private MeterRegistry meters = new CompositeMeterRegistry();

        private Builder(FhirContext context) {
            this.context = Objects.requireNonNull(context, "context");
        }

        /** What export reads: the built-in store, a HAPI JPA server's DAOs, or a source of your own. */
        public Builder resources(ResourceSource source) {
            this.resources = source;
            return this;
        }

        /**
         * This node's own folder: its name in job leases ({@code export/node-id}) and, unless set
         * otherwise, the plugin's own H2 database ({@code bulkfhir.mv.db}), export files ({@code export/})
         * and Binary content ({@code binaries/}).
         */
        public Builder dataDirectory(Path directory) {
            this.dataDirectory = directory;
            return this;
        }

        /**
         * Where export files and large Binary content go (default: the data directory): a directory all
         * nodes mount, or an object store ({@code S3FileStore}) when several nodes share the work. The
         * caller closes it after the plugin.
         */
        public Builder fileStore(FileStore files) {
            this.fileStore = files;
            return this;
        }

        /**
         * The database for the export job table (and the plugin's Binaries, when it owns them), e.g.
         * the host's own. Our tables are created and migrated there by Flyway with a history table of
         * their own ({@code bf_schema_history}). Default: an H2 file database in the data directory.
         * Several nodes sharing one database (PostgreSQL) share the jobs; give them one {@link #fileStore}.
         */
        public Builder jobDatabase(DataSource dataSource) {
            this.jobDatabase = dataSource;
            return this;
        }

        /** The plugin owns Binary, stored in {@code store} (default: a store in the job database). */
        public Builder binaryStore(ResourceStore store) {
            this.binaryStore = store;
            return this;
        }

        /**
         * The host owns Binary (e.g. HAPI JPA's Binary provider): the plugin serves native reads and the
         * download operations of the host's Binaries, read through {@code source}, and leaves wrapped
         * reads, writes and searches to the host's provider.
         */
        public Builder hostBinaries(BinarySource source) {
            this.hostBinaries = source;
            return this;
        }

        /** {@code SmartAuth.tokens(...)}, {@code SmartAuth.host(...)} or {@code SmartAuth.off()}: say which. */
        public Builder auth(SmartAuth value) {
            this.auth = value;
            return this;
        }

        /**
         * The public FHIR base URL, as clients reach it (behind a proxy: the proxy's URL), written into
         * status URLs, manifests and the SMART configuration; client assertions must name the token
         * endpoint under it ({@code [baseUrl]/auth/token}).
         *
         * <p>Without it: if the server has a {@code HardcodedServerAddressStrategy} when the plugin is
         * installed, its URL. Otherwise the base depends on who issues tokens: with
         * {@link SmartAuth#tokens} {@link BulkFhirPlugin#install} refuses to install, because the only
         * other source is the request's {@code Host} header, which the client chooses (a forged one would
         * be accepted as the token audience and echoed into the discovery document); with
         * {@link SmartAuth#host} or {@link SmartAuth#off} the plugin follows the server's address
         * strategy per request, as HAPI's own links (Location, Bundle links) do.
         */
        public Builder baseUrl(String url) {
            this.base = ServerBase.fixed(url);
            return this;
        }

        public Builder export(ExportSettings settings) {
            this.exportSettings = Objects.requireNonNull(settings, "settings");
            return this;
        }

        /**
         * Where the plugin reports its metrics: tokens issued and refused ({@code bulkfhir.tokens}), export
         * jobs by state ({@code bulkfhir.export.jobs}), resources and bytes exported
         * ({@code bulkfhir.export.resources}, {@code bulkfhir.export.bytes}). Default: nowhere.
         */
        public Builder meterRegistry(MeterRegistry registry) {
            this.meters = Objects.requireNonNull(registry, "registry");
            return this;
        }

        public Builder binary(BinaryAccessSettings settings) {
            this.binarySettings = Objects.requireNonNull(settings, "settings");
            return this;
        }

        /**
         * Where the audit trail goes: tokens issued and refused, exports kicked off, completed, cancelled and
         * expired, files downloaded, Binaries read, and refused requests ({@link dev.bulkfhir.providers.audit.AuditRecord}).
         * Default: {@link AuditSink#logger()}. To keep them as AuditEvents in a HAPI JPA host, give an
         * {@link AuditWriter} that writes each batch through the host's AuditEvent DAO; {@link AuditSink#off()}
         * records nothing. The sink is called on request threads and must not block.
         */
        public Builder audit(AuditSink sink) {
            this.audit = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /**
         * Opens the databases and starts the export workers, which resume any job a stopped node left
         * unfinished.
         */
        public BulkFhirPlugin start() {
            require(resources != null, "resources(...): what export reads");
            require(dataDirectory != null, "dataDirectory(...): this node's own folder");
            require(auth != null, "auth(...): SmartAuth.tokens(...), SmartAuth.host(...) or, for trials only,"
                    + " SmartAuth.off()");
            require(binaryStore == null || hostBinaries == null, "binaryStore(...) or hostBinaries(...), not both");
            try {
                Files.createDirectories(dataDirectory);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot create the data directory " + dataDirectory, e);
            }
            Database own = null;
            DataSource jobs = jobDatabase;
            if (jobs == null) {
                own = Database.open(Database.h2Url(dataDirectory), null, null, 8);
                jobs = own.dataSource();
            } else {
                Database.migrate(jobs);
            }
            AuditWriter ownAudit = null;
            try {
                FileStore files = fileStore != null ? fileStore : FileStore.directory(dataDirectory);
                BinaryAccess binaries;
                if (hostBinaries != null) {
                    binaries = BinaryAccess.alongside(context, hostBinaries, binarySettings);
                } else {
                    ResourceStore store = binaryStore != null ? binaryStore : new ResourceStore(jobs, context,
                            new BinaryStore(jobs, files, BinaryStore.DEFAULT_INLINE_THRESHOLD));
                    binaries = BinaryAccess.owning(store, binarySettings);
                }
                ownAudit = audit == null ? AuditSink.logger() : null;
                BulkExport export = BulkExport.start(jobs, resources, files, dataDirectory.resolve("export"), context,
                        exportSettings, meters, audit == null ? ownAudit : audit);
                return new BulkFhirPlugin(own, export, binaries, auth, base, audit == null ? ownAudit : audit,
                        ownAudit, meters);
            } catch (RuntimeException e) {
                if (ownAudit != null) ownAudit.close();
                if (own != null) own.close();
                throw e;
            }
        }

        private static void require(boolean condition, String what) {
            if (!condition) {
                throw new IllegalStateException("The Bulk FHIR plugin needs " + what + ".");
            }
        }
    }
}
