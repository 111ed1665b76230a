package dev.bulkfhir.examples;

import ca.uhn.fhir.rest.server.RestfulServer;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import java.io.IOException;

/**
 * A host's RESTful server on Jetty 12 at {@code http://127.0.0.1:[a free port]/fhir}. The port is
 * bound first ({@link #bind}), so that the host knows its base URL before it configures its server
 * and the plugin; then {@link #serve} starts answering.
 */
public final class FhirOnJetty implements AutoCloseable {

    private final Server jetty;
    private final ServerConnector connector;
    private final String baseUrl;

    private FhirOnJetty(Server jetty, ServerConnector connector) {
        this.jetty = jetty;
        this.connector = connector;
        this.baseUrl = "http://127.0.0.1:" + connector.getLocalPort() + "/fhir";
    }

    /** Binds a free port on 127.0.0.1; nothing is served yet. */
    public static FhirOnJetty bind() throws IOException {
        Server jetty = new Server();
        ServerConnector connector = new ServerConnector(jetty);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        jetty.addConnector(connector);
        connector.open();
        return new FhirOnJetty(jetty, connector);
    }

    /** Starts serving; the server initializes (and installs whatever it installs) now, not at the first request. */
    public FhirOnJetty serve(RestfulServer fhir) throws Exception {
        ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        ServletHolder holder = new ServletHolder("fhir", fhir);
        holder.setInitOrder(0);
        handler.addServlet(holder, "/fhir/*");
        jetty.setHandler(handler);
        try {
            jetty.start();
        } catch (Exception e) {
            close();
            throw e;
        }
        return this;
    }

    /** The base URL clients use, known from {@link #bind}. */
    public String baseUrl() {
        return baseUrl;
    }

    @Override
    public void close() throws Exception {
        try {
            jetty.stop();
        } finally {
            connector.close(); // bound but never started
        }
    }
}
