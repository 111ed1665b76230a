package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.MethodNotAllowedException;
import ca.uhn.fhir.rest.server.exceptions.ResourceVersionConflictException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.storage.binary.BinarySource;
import dev.bulkfhir.storage.binary.StagedContent;
import dev.bulkfhir.storage.resource.InvalidResourceException;
import dev.bulkfhir.storage.resource.StoredResource;
import dev.bulkfhir.storage.resource.WriteConflictException;

import java.util.function.Supplier;

/** What every Binary write shares: read-only ids, the store's errors as 4xx, no staged file left behind. */
final class BinaryWrites {

    private BinaryWrites() {
    }

    static void requireWritable(BinarySource source, String id) {
        if (source.isReadOnly(id)) {
            MethodNotAllowedException error = new MethodNotAllowedException("Binary/" + id
                    + " is served read-only (e.g. an export file): it cannot be written or deleted.",
                    RequestTypeEnum.GET, RequestTypeEnum.HEAD);
            OperationOutcomes.withOutcome(error, "not-supported");
            throw error;
        }
    }

    /** Runs the write; if it fails the staged content is discarded, and store errors become 4xx. */
    static StoredResource write(StagedContent content, Supplier<StoredResource> write) {
        boolean written = false;
        try {
            StoredResource stored = write.get();
            written = true;
            return stored;
        } catch (InvalidResourceException e) {
            throw new InvalidRequestException(e.getMessage());
        } catch (WriteConflictException e) {
            throw new ResourceVersionConflictException(e.getMessage());
        } finally {
            if (!written) {
                content.discard();
            }
        }
    }
}
