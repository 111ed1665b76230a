package dev.bulkfhir.examples.plain;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.RestfulServer;
import dev.bulkfhir.providers.BulkFhirPlugin;
import dev.bulkfhir.providers.auth.SmartAuth;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;

import java.nio.file.Path;

/**
 * Example (a): an existing plain HAPI server — its own Patient and Observation providers on its
 * own storage — that gains Binary, bulk export and bearer authorization by building the plugin
 * and calling {@code install} once.
 */
final class ClinicServer implements AutoCloseable {

    static final FhirContext CONTEXT = FhirContext.forR4Cached();

    final ClinicRecords records = new ClinicRecords(CONTEXT);
    final BulkFhirPlugin plugin;
    private final Server jetty;
    final String base;

    ClinicServer(Path dataDir, SmartAuth auth) throws Exception {
        plugin = BulkFhirPlugin.builder(CONTEXT)
                .resources(new ClinicResourceSource(records)) // export reads the host's storage
                .dataDirectory(dataDir)                       // files, job table, Binaries
                .auth(auth)
                .start();
        RestfulServer fhir = new RestfulServer(CONTEXT) {
            @Override
            protected void initialize() {
                registerProvider(new ClinicProvider(Patient.class, records));
                registerProvider(new ClinicProvider(Observation.class, records));
                plugin.install(this);
            }
        };

        jetty = new Server();
        ServerConnector connector = new ServerConnector(jetty);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        jetty.addConnector(connector);
        ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        ServletHolder holder = new ServletHolder(fhir);
        holder.setInitOrder(0); // initialize (and install the plugin) at start, not on the first request
        handler.addServlet(holder, "/fhir/*");
        jetty.setHandler(handler);
        jetty.start();
        base = "http://127.0.0.1:" + connector.getLocalPort() + "/fhir";
    }

    @Override
    public void close() throws Exception {
        try {
            jetty.stop();
        } finally {
            plugin.close();
        }
    }
}
