package dev.bulkfhir.server.crud;

import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceVersionConflictException;
import dev.bulkfhir.storage.resource.InvalidResourceException;
import dev.bulkfhir.storage.resource.WriteConflictException;

import java.util.function.Supplier;

/** Maps the store's exceptions to the HTTP answers a client should see. */
final class StoreErrors {

    private StoreErrors() {}

    static <T> T translate(Supplier<T> write) {
        try {
            return write.get();
        } catch (InvalidResourceException e) {
            throw new InvalidRequestException(e.getMessage());
        } catch (WriteConflictException e) {
            throw new ResourceVersionConflictException(e.getMessage());
        }
    }
}
