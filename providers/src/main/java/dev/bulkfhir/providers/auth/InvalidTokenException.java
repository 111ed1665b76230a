package dev.bulkfhir.providers.auth;

/**
 * A request carried credentials that do not hold (expired, tampered, signed by another key...):
 * the interceptor answers 401 with {@code error="invalid_token"} and this message.
 */
public class InvalidTokenException extends RuntimeException {

    public InvalidTokenException(String message) {
        super(message);
    }
}
