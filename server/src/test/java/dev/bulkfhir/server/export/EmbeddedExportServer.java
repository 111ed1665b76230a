package dev.bulkfhir.server.export;

import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.RestfulServer;
import dev.bulkfhir.providers.BulkFhirPlugin;
import dev.bulkfhir.providers.auth.ClientAccess;
import dev.bulkfhir.providers.auth.SmartAuth;
import dev.bulkfhir.providers.auth.SmartScope;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.KeyRange;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.ResourceSource;
import dev.bulkfhir.storage.source.StoreResourceSource;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A plain HAPI server with only the plugin, as a host would embed it: the export reads through a
 * source the test can hold back (a gate) or slow down, and the host authorizes: the client is
 * whoever the {@code X-Client} header names (anonymous without one), so that ownership, limits,
 * cancel and the snapshot rule can be tested without racing the workers.
 */
final class EmbeddedExportServer implements AutoCloseable {

    final Database database;
    final ResourceStore store;
    final HeldSource source;
    final BulkFhirPlugin plugin;
    final Server jetty;
    final String base;

    EmbeddedExportServer(Path dataDir, ExportSettings settings) throws Exception {
        this(dataDir, Database.h2Url(dataDir), null, settings, StoreResourceSource.SQL_PATIENT_LIST);
    }

    /** @param sqlPatientList patient lists longer than this are matched in memory (small: test that path) */
    EmbeddedExportServer(Path dataDir, String jdbcUrl, String user, ExportSettings settings, int sqlPatientList)
            throws Exception {
        this(dataDir, jdbcUrl, user, settings, sqlPatientList, StoreResourceSource.PAGE_BYTES);
    }

    /** @param pageBytes the JSON a page of the export's reads holds at most (small: pages end by size) */
    EmbeddedExportServer(Path dataDir, String jdbcUrl, String user, ExportSettings settings, int sqlPatientList,
            long pageBytes) throws Exception {
        database = Database.open(jdbcUrl, user, null, 8);
        store = new ResourceStore(database.dataSource(), BulkClient.CONTEXT, BinaryStore.inDataDirectory(
                database.dataSource(), dataDir, BinaryStore.DEFAULT_INLINE_THRESHOLD));
        source = new HeldSource(new StoreResourceSource(database.dataSource(), store, sqlPatientList, pageBytes));
        plugin = BulkFhirPlugin.builder(BulkClient.CONTEXT)
                .resources(source)
                .dataDirectory(dataDir)
                .jobDatabase(database.dataSource())
                .binaryStore(store)
                .auth(SmartAuth.host(request -> {
                    String client = request.getHeader("X-Client");
                    return client == null ? ClientAccess.ANONYMOUS : ClientAccess.of(client, SmartScope.parseAll("system/*.*"));
                }))
                .export(settings)
                .start();
        RestfulServer fhir = new RestfulServer(BulkClient.CONTEXT) {
            @Override
            protected void initialize() {
                setDefaultResponseEncoding(EncodingEnum.JSON);
                plugin.install(this);
            }
        };
        jetty = new Server();
        ServerConnector connector = new ServerConnector(jetty);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        jetty.addConnector(connector);
        ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        handler.addServlet(new ServletHolder(fhir), "/fhir/*");
        jetty.setHandler(handler);
        jetty.start();
        base = "http://127.0.0.1:" + connector.getLocalPort() + "/fhir";
    }

    @Override
    public void close() throws Exception {
        source.open();
        try {
            jetty.stop();
        } finally {
            try {
                plugin.close();
            } finally {
                database.close();
            }
        }
    }

    /** The store, except that streams wait while the gate is shut, and each resource can be delayed. */
    static final class HeldSource implements ResourceSource {
        private final ResourceSource store;
        private volatile CountDownLatch gate = new CountDownLatch(0);
        private volatile long delayMicros;
        private volatile String failing;

        HeldSource(ResourceSource store) {
            this.store = store;
        }

        void shut() {
            gate = new CountDownLatch(1);
        }

        void open() {
            gate.countDown();
        }

        void delay(long micros) {
            delayMicros = micros;
        }

        /** Streams of this type fail, as a broken database would make them (null: none). */
        void fail(String type) {
            failing = type;
        }

        @Override
        public void stream(ExportQuery query, ResourceSink sink) throws IOException {
            try {
                if (!gate.await(60, TimeUnit.SECONDS)) throw new IOException("gate never opened");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            if (query.type().equals(failing)) {
                throw new IOException("disk on fire while reading " + query.type());
            }
            store.stream(query, new ResourceSink() {
                @Override
                public void resource(byte[] json) throws IOException {
                    long micros = delayMicros;
                    if (micros > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(micros * 1000);
                    }
                    sink.resource(json);
                }

                @Override
                public void error(String reference, String message) throws IOException {
                    sink.error(reference, message);
                }
            });
        }

        @Override
        public KeyRange firstRange(String type, KeyRange within, long rangeSize) {
            return store.firstRange(type, within, rangeSize);
        }

        @Override
        public Optional<Set<String>> groupMembers(String groupId, Instant asOf) {
            return store.groupMembers(groupId, asOf);
        }

        @Override
        public Set<String> existingPatients(Set<String> patientIds, Instant asOf) {
            return store.existingPatients(patientIds, asOf);
        }

        @Override
        public boolean hasData(String type) {
            return store.hasData(type);
        }

        @Override
        public Instant transactionTime() {
            return store.transactionTime();
        }
    }
}
