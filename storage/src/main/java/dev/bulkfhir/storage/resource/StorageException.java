package dev.bulkfhir.storage.resource;

/** The database failed; not the client's fault. */
public class StorageException extends RuntimeException {
    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }
}
