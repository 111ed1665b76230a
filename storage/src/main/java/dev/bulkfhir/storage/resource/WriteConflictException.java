package dev.bulkfhir.storage.resource;

/** A concurrent write to the same resource won; the client may retry. */
public class WriteConflictException extends StorageException {
    public WriteConflictException(String message, Throwable cause) {
        super(message, cause);
    }
}
