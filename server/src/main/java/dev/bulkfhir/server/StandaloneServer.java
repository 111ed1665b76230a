package dev.bulkfhir.server;

import dev.bulkfhir.server.audit.AuditTrail;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.HardcodedServerAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ServerCapabilityStatementProvider;
import dev.bulkfhir.server.crud.BundleProvider;
import dev.bulkfhir.server.crud.CapabilityStatementCustomizer;
import dev.bulkfhir.server.crud.CommonParameterChecks;
import dev.bulkfhir.server.crud.CursorPagingProvider;
import dev.bulkfhir.server.crud.JsonBodyCheck;
import dev.bulkfhir.server.crud.StoredResourceProvider;
import dev.bulkfhir.server.demo.DemoData;
import dev.bulkfhir.server.ops.Ops;
import dev.bulkfhir.server.ops.RequestClient;
import dev.bulkfhir.server.ops.Tls;
import dev.bulkfhir.providers.BulkFhirPlugin;
import dev.bulkfhir.providers.EncodedCapabilityStatement;
import dev.bulkfhir.providers.ServerBase;
import dev.bulkfhir.providers.auth.SmartAuth;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.source.StoreResourceSource;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The standalone server: the built-in store behind HAPI's plain RESTful server on embedded
 * Jetty. {@link #start()} returns once it is listening; {@link #close()} stops taking requests,
 * lets running ones finish and closes the database.
 */
public final class StandaloneServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StandaloneServer.class);
    /** Jetty's form limits, stated here because refusals quote them. */
    static final int MAX_FORM_BYTES = 200_000;
    static final int MAX_FORM_FIELDS = 1000;
    private static final String REQUEST_ID_ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private final ServerSettings settings;
    private final FhirContext context = FhirContext.forR4Cached();
    private AuditTrail audit;
    private Database database;
    private FileStore files;
    private SmartAuth auth;
    private ResourceStore store;
    private BulkFhirPlugin plugin;
    private Server jetty;
    private Ops ops;
    private String baseUrl;

    public StandaloneServer(ServerSettings settings) {
        this.settings = settings;
    }

    public StandaloneServer start() throws Exception {
        Files.createDirectories(settings.dataDir());
        files = settings.storage().open(settings.dataDir()); // first: a store it cannot reach leaves nothing open
        try {
            database = Database.open(settings.effectiveJdbcUrl(), settings.jdbc().user(), settings.jdbc().password(), 16);
            auth = settings.auth().open(settings.dataDir(), database.dataSource());
        } catch (Exception e) {
            if (database != null) database.close();
            files.close();
            throw e;
        }
        store = new ResourceStore(database.dataSource(), context, new BinaryStore(database.dataSource(), files,
                settings.storage().binaryInlineThreshold()));
        if (settings.demo().enabled() && store.isEmpty()) {
            log.info("Generating demo data: {} patients (seed {})", settings.demo().patients(), settings.demo().seed());
            long count = DemoData.populate(store, settings.demo().patients(), settings.demo().seed());
            log.info("Demo data ready: {} resources", count);
        }
        QueuedThreadPool threads = new QueuedThreadPool(200, 8);
        threads.setName("http");
        jetty = new Server(threads);
        ServerConnector connector = settings.ops().tls() == null ? new ServerConnector(jetty)
                : Tls.connector(jetty, settings.ops().tls());
        connector.setName(Ops.MAIN_CONNECTOR);
        connector.setHost(settings.host());
        connector.setPort(settings.port());
        jetty.addConnector(connector);
        jetty.setStopTimeout(10_000);
        jetty.setStopAtShutdown(false);
        connector.open(); // the port is known now, so the base URL is, before anything is served
        try {
            serve(connector);
        } catch (Exception | Error e) {
            connector.close();
            throw e;
        }
        return this;
    }

    private void serve(ServerConnector connector) throws Exception {
        String basePath = settings.normalizedBasePath();
        baseUrl = settings.baseUrl() != null ? ServerBase.fixed(settings.baseUrl()).url()
                : boundBaseUrl(connector.getLocalPort(), basePath);
        if (settings.baseUrl() == null && (settings.host().equals("0.0.0.0") || settings.host().equals("::"))) {
            log.warn("Listening on all addresses without --base-url: links and the token audience name {},"
                    + " which clients cannot reach. Set --base-url to the URL clients use.", baseUrl);
        }

        ops = new Ops(settings.ops());
        audit = new AuditTrail(database.dataSource(), settings.audit(), context, baseUrl);
        plugin = BulkFhirPlugin.builder(context)
                .resources(audit.source(new StoreResourceSource(database.dataSource(), store)))
                .audit(audit.sink())
                .dataDirectory(settings.dataDir())
                .fileStore(files)
                .jobDatabase(database.dataSource())
                .binaryStore(store)
                .auth(auth)
                .baseUrl(baseUrl)
                .export(settings.export())
                .binary(settings.binary())
                .meterRegistry(ops.registry())
                .start();

        ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        handler.setContextPath("/");
        handler.setMaxFormContentSize(MAX_FORM_BYTES);
        handler.setMaxFormKeys(MAX_FORM_FIELDS);
        ServletHolder fhir = new ServletHolder("fhir", new FhirServlet());
        fhir.setInitOrder(0); // HAPI scans its 146 providers at start, not in the first client's request
        handler.addServlet(fhir, (basePath.equals("/") ? "" : basePath) + "/*");
        if (auth.issuesTokens() && !basePath.equals("/")) {
            // Clients look for the discovery document at the host's root as well as under the FHIR base.
            handler.addServlet(new ServletHolder("smart-configuration", auth.discoveryServlet(baseUrl)),
                    SmartAuth.DISCOVERY_PATH);
        }
        jetty.setHandler(handler);
        ops.install(jetty, handler, basePath, context.getResourceTypes(), database.dataSource(),
                plugin::exportWorkersLastSeen);
        if (settings.ops().tls() != null && settings.ops().tls().redirectPort() != null) {
            Tls.addRedirect(jetty, settings.host(), settings.ops().tls().redirectPort(), this::port);
        }
        jetty.setErrorHandler(new FhirErrorHandler(context, basePath));
        jetty.start();
    }

    /** The public FHIR base URL: {@code --base-url}, or else the address the server is bound to. */
    public String baseUrl() {
        return baseUrl;
    }

    /** Where this server answers FHIR requests itself: {@code http(s)://HOST:PORT/BASE-PATH}. */
    public String listeningUrl() {
        String basePath = settings.normalizedBasePath();
        return boundBaseUrl(port(), basePath);
    }

    private String boundBaseUrl(int port, String basePath) {
        String host = settings.host().contains(":") ? "[" + settings.host() + "]" : settings.host();
        return (settings.ops().tls() == null ? "http://" : "https://") + host + ":" + port + (basePath.equals("/") ? "" : basePath);
    }

    public int port() {
        return ((ServerConnector) jetty.getConnectors()[0]).getLocalPort();
    }

    /** The plain HTTP port that redirects to HTTPS ({@code --http-redirect-port}), else -1. */
    public int redirectPort() {
        for (org.eclipse.jetty.server.Connector connector : jetty.getConnectors()) {
            if (Tls.REDIRECT_CONNECTOR.equals(connector.getName())) {
                return ((ServerConnector) connector).getLocalPort();
            }
        }
        return -1;
    }

    /** The port of {@code /metrics} and {@code /health/*} when they have one of their own ({@code --ops-port}), else -1. */
    public int opsPort() {
        return ops.opsPort();
    }

    /** Tokens, clients and the bearer interceptor (which admits everyone when auth is off). */
    public SmartAuth auth() {
        return auth;
    }

    public ResourceStore store() {
        return store;
    }

    public FhirContext context() {
        return context;
    }

    @Override
    public void close() throws Exception {
        try {
            if (jetty != null) {
                jetty.stop();
            }
        } finally {
            try {
                if (plugin != null) {
                    plugin.close(); // workers stop before the database they write to
                }
                if (audit != null) {
                    audit.close(); // the last events are written before the database closes
                }
            } finally {
                try {
                    if (database != null) {
                        database.close();
                    }
                } finally {
                    try {
                        if (files != null) {
                            files.close();
                        }
                    } finally {
                        if (ops != null) {
                            ops.close();
                        }
                    }
                }
            }
        }
    }

    /** HAPI's RESTful server with one provider per R4 resource type, and the plugin. */
    private final class FhirServlet extends RestfulServer {

        private final RequestGuard guard = new RequestGuard(context, settings.maxRequestBody(), settings.auth().enabled());

        FhirServlet() {
            super(context);
        }

        @Override
        protected void service(HttpServletRequest request, HttpServletResponse response)
                throws ServletException, IOException {
            HttpServletResponse answer = RequestGuard.singleServerHeaders(response);
            HttpServletRequest admitted = guard.admit(request, answer);
            if (admitted != null) {
                super.service(admitted, answer);
            }
        }

        /** HAPI's default makes a new SecureRandom per request; a request id needs no crypto. */
        @Override
        protected String newRequestId(int length) {
            java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
            StringBuilder id = new StringBuilder(length);
            for (int i = 0; i < length; i++) {
                id.append(REQUEST_ID_ALPHABET.charAt(random.nextInt(REQUEST_ID_ALPHABET.length())));
            }
            return id.toString();
        }

        @Override
        protected void initialize() {
            setDefaultResponseEncoding(EncodingEnum.JSON);
            // Location headers and Bundle links name the configured base, never the request's Host.
            setServerAddressStrategy(new HardcodedServerAddressStrategy(baseUrl));
            CursorPagingProvider paging = new CursorPagingProvider(store);
            setPagingProvider(paging);
            List<StoredResourceProvider> providers = new ArrayList<>();
            for (String type : context.getResourceTypes()) {
                if (type.equals("Binary")) continue; // BinaryAccess serves Binary
                if (type.equals("AuditEvent")) continue; // the audit trail's, read-only
                Class<? extends IBaseResource> resourceClass = context.getResourceDefinition(type).getImplementingClass();
                providers.add(new StoredResourceProvider(resourceClass, store, paging));
            }
            registerProviders(providers);
            registerProvider(new BundleProvider(store));
            registerProvider(audit.provider());
            registerInterceptor(new CommonParameterChecks());
            registerInterceptor(new JsonBodyCheck());
            ServerCapabilityStatementProvider capabilities = new ServerCapabilityStatementProvider(this);
            // Search takes no _revinclude; listing them all costs HAPI seconds per type x type.
            capabilities.setRestResourceRevIncludesEnabled(false);
            setServerConformanceProvider(capabilities);
            registerInterceptor(new CapabilityStatementCustomizer(context));
            registerInterceptor(new EncodedCapabilityStatement());
            registerInterceptor(new RequestClient());
            plugin.install(this); // Binary, export, authorization
        }
    }
}
