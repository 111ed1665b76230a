package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.api.dao.DaoRegistry;
import ca.uhn.fhir.jpa.binary.interceptor.BinaryStorageInterceptor;
import ca.uhn.fhir.jpa.binary.provider.BinaryAccessProvider;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.HardcodedServerAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import dev.bulkfhir.examples.FhirOnJetty;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A real HAPI JPA R4 server for tests: HAPI's JPA configuration in a Spring context on H2 or on an
 * embedded PostgreSQL of its own, its resource providers (Binary included), system provider and {@code $binary-access-read} on a
 * {@link RestfulServer}, served by Jetty on a free port at {@code /fhir}.
 *
 * <pre>{@code
 * try (JpaHost host = JpaHost.inMemory().customize((server, spring) -> server.registerProvider(...)).start()) {
 *     IGenericClient client = host.fhirContext().newRestfulGenericClient(host.baseUrl());
 * }
 * }</pre>
 */
public final class JpaHost implements AutoCloseable {

    /** What the Spring configuration needs from outside. */
    record Settings(String jdbcUrl, String user, boolean partitioned) {

        boolean postgres() {
            return jdbcUrl.startsWith("jdbc:postgresql:");
        }
    }

    /** Runs after HAPI's own providers are registered and before the server takes requests. */
    @FunctionalInterface
    public interface Customizer {
        void customize(RestfulServer server, AnnotationConfigApplicationContext spring) throws Exception;
    }

    /** The H2 database; null for an embedded PostgreSQL of the host's own. */
    private final String h2Url;
    /** Where that PostgreSQL keeps its data; null for a temporary directory. */
    private final Path postgresDirectory;
    private boolean partitioned;
    private EmbeddedPostgres postgres;
    private final List<Customizer> customizers = new ArrayList<>();
    private AnnotationConfigApplicationContext spring;
    private RestfulServer server;
    private FhirOnJetty http;
    private String baseUrl;

    private JpaHost(String h2Url, Path postgresDirectory) {
        this.h2Url = h2Url;
        this.postgresDirectory = postgresDirectory;
    }

    /** An H2 database in memory, gone when the host closes. */
    public static JpaHost inMemory() {
        return new JpaHost("jdbc:h2:mem:jpa-host-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1", null);
    }

    /** An H2 database file in {@code directory} (keeps the heap free of the data, e.g. for benchmarks). */
    public static JpaHost inDirectory(Path directory) {
        return new JpaHost("jdbc:h2:file:" + directory.toAbsolutePath().resolve("hapi"), null);
    }

    /** An embedded PostgreSQL, started with the host in a temporary directory and gone when it closes. */
    public static JpaHost onPostgres() {
        return new JpaHost(null, null);
    }

    /** An embedded PostgreSQL whose data stays in {@code directory} for the next host on it (e.g. for benchmarks). */
    public static JpaHost onPostgres(Path directory) {
        return new JpaHost(null, directory.toAbsolutePath());
    }

    /** With HAPI's partitioning on (partitions to be created by the test, by name and id). */
    public JpaHost partitioned() {
        partitioned = true;
        return this;
    }

    public JpaHost customize(Customizer customizer) {
        customizers.add(customizer);
        return this;
    }

    public JpaHost start() throws Exception {
        try {
            Settings settings;
            if (h2Url != null) {
                settings = new Settings(h2Url, "sa", partitioned);
            } else {
                EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder();
                if (postgresDirectory != null) builder.setDataDirectory(postgresDirectory).setCleanDataDirectory(false);
                postgres = builder.start();
                settings = new Settings(postgres.getJdbcUrl("postgres", "postgres"), "postgres", partitioned);
            }
            spring = new AnnotationConfigApplicationContext();
            spring.registerBean(Settings.class, () -> settings);
            spring.register(JpaHostConfig.class);
            spring.refresh();

            FhirContext context = spring.getBean(FhirContext.class);
            // Its own interceptor service, as HAPI's starter does: the DAOs call the hooks of the JPA
            // interceptor service and of the request's server both, so sharing one would call each twice.
            http = FhirOnJetty.bind();
            baseUrl = http.baseUrl();
            server = new RestfulServer(context);
            server.setDefaultResponseEncoding(EncodingEnum.JSON);
            // Its links (and the plugin's token audience) name its configured address, not the Host header.
            server.setServerAddressStrategy(new HardcodedServerAddressStrategy(baseUrl));
            server.registerProviders(spring.getBean("myResourceProvidersR4", ResourceProviderFactory.class)
                    .createProviders());
            server.registerProvider(spring.getBean("mySystemProviderR4"));
            server.registerProvider(spring.getBean(BinaryAccessProvider.class));
            server.registerInterceptor(spring.getBean(BinaryStorageInterceptor.class));
            server.setPagingProvider(spring.getBean(DatabaseBackedPagingProvider.class));
            server.setServerConformanceProvider(new JpaCapabilityStatementProvider(server,
                    spring.getBean(IFhirSystemDao.class), spring.getBean(JpaStorageSettings.class),
                    spring.getBean(ISearchParamRegistry.class), spring.getBean(IValidationSupport.class)));
            for (Customizer customizer : customizers) {
                customizer.customize(server, spring);
            }

            http.serve(server);
            return this;
        } catch (Exception | Error e) {
            close();
            throw e;
        }
    }

    public String baseUrl() {
        return baseUrl;
    }

    public AnnotationConfigApplicationContext spring() {
        return spring;
    }

    public DaoRegistry daos() {
        return spring.getBean(DaoRegistry.class);
    }

    public FhirContext fhirContext() {
        return spring.getBean(FhirContext.class);
    }

    public RestfulServer server() {
        return server;
    }

    @Override
    public void close() throws Exception {
        try (EmbeddedPostgres database = postgres) { // closed last, after what uses it
            try {
                if (http != null) http.close();
            } finally {
                if (spring != null) spring.close();
            }
        }
    }
}
