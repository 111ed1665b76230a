package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.rest.api.server.RequestDetails;

/**
 * How the {@link BearerAuthInterceptor} learns who is asking: this server's own access tokens
 * ({@link #bearerTokens}), nobody checked ({@link #off}), or a host's own scheme — a host that
 * already authenticates its users implements this and maps the request to a client id and SMART
 * scopes, e.g. {@code request -> ClientAccess.of(user.id(), SmartScope.parseAll(user.scopes()))}.
 */
@FunctionalInterface
public interface RequestAuthorizer {

    /**
     * @return the client and its scopes; null when the request carries no credentials (401)
     * @throws InvalidTokenException when it carries credentials that fail (401, invalid_token)
     */
    ClientAccess authorize(RequestDetails request) throws InvalidTokenException;

    /** {@code Authorization: Bearer} tokens, checked by {@code verifier}. */
    static RequestAuthorizer bearerTokens(AccessTokenVerifier verifier) {
        return request -> {
            String token = bearerToken(request);
            return token == null ? null : verifier.verify(token);
        };
    }

    /** No authorization: every request is {@link ClientAccess#ANONYMOUS}, allowed everything. */
    static RequestAuthorizer off() {
        return request -> ClientAccess.ANONYMOUS;
    }

    /** The token of an {@code Authorization: Bearer} header; null if there is no such header. */
    static String bearerToken(RequestDetails request) throws InvalidTokenException {
        var headers = request.getHeaders("Authorization");
        String bearer = null;
        for (String header : headers == null ? java.util.List.<String>of() : headers) {
            String value = header.trim();
            if (value.regionMatches(true, 0, "Bearer", 0, 6) && (value.length() == 6 || value.charAt(6) == ' ')) {
                if (bearer != null) {
                    throw new InvalidTokenException("The request has more than one Authorization: Bearer header.");
                }
                bearer = value.substring(6).trim();
                if (bearer.isEmpty()) {
                    throw new InvalidTokenException("The Authorization: Bearer header has no token.");
                }
            }
        }
        return bearer;
    }
}
