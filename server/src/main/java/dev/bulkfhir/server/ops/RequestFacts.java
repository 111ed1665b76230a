package dev.bulkfhir.server.ops;

/**
 * What the request log needs to know about a request beyond what Jetty sees: its id, set where the
 * request arrives, and the client the bearer token named, set once HAPI has authorized it.
 */
public final class RequestFacts {

    /** The request attribute that holds it; the servlet side reads it as a servlet request attribute. */
    public static final String ATTRIBUTE = RequestFacts.class.getName();

    final String requestId;
    volatile String clientId;

    RequestFacts(String requestId) {
        this.requestId = requestId;
    }

    public String requestId() {
        return requestId;
    }

    /** The authorized client's id, null when the request named none (or auth is off). */
    public void clientId(String id) {
        this.clientId = id;
    }
}
