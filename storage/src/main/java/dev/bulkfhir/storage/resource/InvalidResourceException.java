package dev.bulkfhir.storage.resource;

/** The client sent something the store cannot keep, such as a malformed id. */
public class InvalidResourceException extends RuntimeException {
    public InvalidResourceException(String message) {
        super(message);
    }
}
