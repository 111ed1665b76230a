package dev.bulkfhir.examples;

import ca.uhn.fhir.rest.server.RestfulServer;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** A host's RESTful server on Jetty 12 at {@code http://127.0.0.1:[a free port]/fhir}. */
public final class FhirOnJetty implements AutoCloseable {

    private final Server jetty;
    private final String baseUrl;

    private FhirOnJetty(Server jetty, String baseUrl) {
        this.jetty = jetty;
        this.baseUrl = baseUrl;
    }

    /** Starts serving; the server initializes (and installs whatever it installs) now, not at the first request. */
    public static FhirOnJetty serve(RestfulServer fhir) throws Exception {
        Server jetty = new Server();
        ServerConnector connector = new ServerConnector(jetty);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        jetty.addConnector(connector);
        ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        ServletHolder holder = new ServletHolder("fhir", fhir);
        holder.setInitOrder(0);
        handler.addServlet(holder, "/fhir/*");
        jetty.setHandler(handler);
        try {
            jetty.start();
        } catch (Exception e) {
            jetty.stop();
            throw e;
        }
        return new FhirOnJetty(jetty, "http://127.0.0.1:" + connector.getLocalPort() + "/fhir");
    }

    public String baseUrl() {
        return baseUrl;
    }

    @Override
    public void close() throws Exception {
        jetty.stop();
    }
}
