package dev.bulkfhir.providers;

import ca.uhn.fhir.rest.api.server.RequestDetails;
import jakarta.servlet.http.HttpServletRequest;

/**
 * The FHIR base URL the plugin writes into the URLs it hands out (export status and manifest URLs,
 * the token endpoint). By default the one HAPI derives for each request (the server's
 * {@code IServerAddressStrategy}, i.e. the URL the client used); a fixed one for a server behind a
 * proxy whose address strategy does not know its public name.
 */
public final class ServerBase {

    private static final ServerBase FROM_REQUESTS = new ServerBase(null);

    private final String fixed;

    private ServerBase(String fixed) {
        this.fixed = fixed;
    }

    public static ServerBase fromRequests() {
        return FROM_REQUESTS;
    }

    /** @param url an absolute http(s) URL, e.g. {@code https://fhir.example.org/r4}; a trailing slash is dropped */
    public static ServerBase fixed(String url) {
        if (url == null || !(url.startsWith("http://") || url.startsWith("https://"))) {
            throw new IllegalArgumentException("The base URL must be an absolute http(s) URL, not '" + url + "'");
        }
        return new ServerBase(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
    }

    public String of(RequestDetails request) {
        return fixed != null ? fixed : request.getFhirServerBase();
    }

    /**
     * For a request HAPI has not parsed yet: its URL less {@code pathInBase}, the part of the path
     * after the FHIR base (e.g. {@code /auth/token}).
     */
    public String of(HttpServletRequest request, String pathInBase) {
        if (fixed != null) {
            return fixed;
        }
        String url = request.getRequestURL().toString();
        return url.endsWith(pathInBase) ? url.substring(0, url.length() - pathInBase.length()) : url;
    }
}
