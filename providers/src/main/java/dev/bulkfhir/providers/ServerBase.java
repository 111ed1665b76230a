package dev.bulkfhir.providers;

import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.HardcodedServerAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;

import java.net.URI;
import java.net.URISyntaxException;

/**
 * The FHIR base URL the plugin writes into the URLs it hands out (export status and manifest URLs,
 * the token endpoint) and that client assertions must name: either fixed by configuration, or
 * whatever the server's {@code IServerAddressStrategy} says for each request. HAPI's default
 * strategy builds it from the request's {@code Host} header, which the client chooses: so the token
 * endpoint accepts only a fixed base (see {@link #isFixed()}).
 */
public final class ServerBase {

    private static final ServerBase FROM_SERVER = new ServerBase(null);

    private final String fixed;

    private ServerBase(String fixed) {
        this.fixed = fixed;
    }

    /** What the server's address strategy says for each request (HAPI's own links use the same). */
    public static ServerBase fromServer() {
        return FROM_SERVER;
    }

    /**
     * @param url an absolute http(s) URL without query or fragment, e.g. {@code https://fhir.example.org/r4};
     *            a trailing slash is dropped
     */
    public static ServerBase fixed(String url) {
        String problem = null;
        try {
            URI uri = url == null ? null : new URI(url);
            if (uri == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
                    || uri.getHost() == null) {
                problem = "must be an absolute http(s) URL";
            } else if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
                problem = "may have no query or fragment";
            }
        } catch (URISyntaxException e) {
            problem = "is not a URL (" + e.getMessage() + ")";
        }
        if (problem != null) {
            throw new IllegalArgumentException("The base URL " + problem + ", e.g. https://fhir.example.org/fhir;"
                    + " got '" + url + "'");
        }
        String trimmed = url;
        while (trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        return new ServerBase(trimmed);
    }

    /**
     * This base for {@code server}: a fixed one stays; otherwise the server's address strategy, which
     * counts as fixed when it is a {@link HardcodedServerAddressStrategy} (set by configuration).
     */
    public ServerBase resolvedFor(RestfulServer server) {
        if (fixed == null && server.getServerAddressStrategy() instanceof HardcodedServerAddressStrategy hardcoded
                && hardcoded.getValue() != null) {
            return fixed(hardcoded.getValue());
        }
        return this;
    }

    /** Whether the base comes from configuration rather than from each request. */
    public boolean isFixed() {
        return fixed != null;
    }

    /** The configured base; only for a {@link #isFixed() fixed} one. */
    public String url() {
        if (fixed == null) {
            throw new IllegalStateException("This base URL is derived from each request, not configured");
        }
        return fixed;
    }

    public String of(RequestDetails request) {
        return fixed != null ? fixed : request.getFhirServerBase();
    }
}
