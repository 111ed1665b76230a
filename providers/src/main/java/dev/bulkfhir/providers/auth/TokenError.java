package dev.bulkfhir.providers.auth;

/** An RFC 6749 section 5.2 error: the token endpoint answers 400 with {@code {error, error_description}}. */
final class TokenError extends Exception {

    private final String error;

    private TokenError(String error, String description) {
        super(description, null, false, false);
        this.error = error;
    }

    static TokenError invalidRequest(String description) {
        return new TokenError("invalid_request", description);
    }

    static TokenError invalidClient(String description) {
        return new TokenError("invalid_client", description);
    }

    static TokenError invalidScope(String description) {
        return new TokenError("invalid_scope", description);
    }

    static TokenError unsupportedGrantType(String description) {
        return new TokenError("unsupported_grant_type", description);
    }

    String error() {
        return error;
    }
}
