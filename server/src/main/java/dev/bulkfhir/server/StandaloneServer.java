package dev.bulkfhir.server;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ServerCapabilityStatementProvider;
import dev.bulkfhir.server.crud.BundleProvider;
import dev.bulkfhir.server.crud.CapabilityStatementCustomizer;
import dev.bulkfhir.server.crud.CursorPagingProvider;
import dev.bulkfhir.server.crud.StoredResourceProvider;
import dev.bulkfhir.server.demo.DemoData;
import dev.bulkfhir.providers.BulkFhirPlugin;
import dev.bulkfhir.providers.auth.SmartAuth;
import dev.bulkfhir.providers.binary.BinaryAccessSettings;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.source.StoreResourceSource;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
    private static final String REQUEST_ID_ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private final ServerSettings settings;
    private final FhirContext context = FhirContext.forR4Cached();
    private Database database;
    private SmartAuth auth;
    private ResourceStore store;
    private BulkFhirPlugin plugin;
    private Server jetty;
    private String baseUrl;

    public StandaloneServer(ServerSettings settings) {
        this.settings = settings;
    }

    public StandaloneServer start() throws Exception {
        Files.createDirectories(settings.dataDir());
        auth = settings.auth().open(settings.dataDir());
        database = Database.open(settings.effectiveJdbcUrl(), settings.jdbcUser(), settings.jdbcPassword(), 16);
        store = new ResourceStore(database.dataSource(), context, BinaryStore.inDataDirectory(
                database.dataSource(), settings.dataDir(), settings.binary().inlineThreshold()));
        if (settings.demo() && store.isEmpty()) {
            log.info("Generating demo data: {} patients (seed {})", settings.demoPatients(), settings.demoSeed());
            long count = DemoData.populate(store, settings.demoPatients(), settings.demoSeed());
            log.info("Demo data ready: {} resources", count);
        }
        plugin = BulkFhirPlugin.builder(context)
                .resources(new StoreResourceSource(database.dataSource(), store))
                .dataDirectory(settings.dataDir())
                .jobDatabase(database.dataSource())
                .binaryStore(store)
                .auth(auth)
                .export(settings.export())
                .binary(new BinaryAccessSettings(settings.binary().maxWrapped()))
                .start();

        QueuedThreadPool threads = new QueuedThreadPool(200, 8);
        threads.setName("http");
        jetty = new Server(threads);
        ServerConnector connector = new ServerConnector(jetty);
        connector.setHost(settings.host());
        connector.setPort(settings.port());
        jetty.addConnector(connector);
        jetty.setStopTimeout(10_000);
        jetty.setStopAtShutdown(false);

        ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        handler.setContextPath("/");
        String basePath = settings.normalizedBasePath();
        ServletHolder fhir = new ServletHolder("fhir", new FhirServlet());
        fhir.setInitOrder(0); // HAPI scans its 146 providers at start, not in the first client's request
        handler.addServlet(fhir, (basePath.equals("/") ? "" : basePath) + "/*");
        jetty.setHandler(handler);
        jetty.setErrorHandler(new FhirErrorHandler(context, basePath));
        jetty.start();

        String host = settings.host().contains(":") ? "[" + settings.host() + "]" : settings.host();
        baseUrl = "http://" + host + ":" + connector.getLocalPort() + (basePath.equals("/") ? "" : basePath);
        return this;
    }

    public String baseUrl() {
        return baseUrl;
    }

    public int port() {
        return ((ServerConnector) jetty.getConnectors()[0]).getLocalPort();
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
            } finally {
                if (database != null) {
                    database.close();
                }
            }
        }
    }

    /** HAPI's RESTful server with one provider per R4 resource type, and the plugin. */
    private final class FhirServlet extends RestfulServer {

        FhirServlet() {
            super(context);
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
            CursorPagingProvider paging = new CursorPagingProvider(store);
            setPagingProvider(paging);
            List<StoredResourceProvider> providers = new ArrayList<>();
            for (String type : context.getResourceTypes()) {
                if (type.equals("Binary")) continue; // BinaryAccess serves Binary
                Class<? extends IBaseResource> resourceClass = context.getResourceDefinition(type).getImplementingClass();
                providers.add(new StoredResourceProvider(resourceClass, store, paging));
            }
            registerProviders(providers);
            registerProvider(new BundleProvider(store));
            ServerCapabilityStatementProvider capabilities = new ServerCapabilityStatementProvider(this);
            // Search takes no _revinclude; listing them all costs HAPI seconds per type x type.
            capabilities.setRestResourceRevIncludesEnabled(false);
            setServerConformanceProvider(capabilities);
            registerInterceptor(new CapabilityStatementCustomizer(context));
            plugin.install(this); // Binary, export, authorization
        }
    }
}
