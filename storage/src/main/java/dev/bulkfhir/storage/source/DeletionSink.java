package dev.bulkfhir.storage.source;

import java.io.IOException;
import java.time.Instant;

/** Receives the deletions a {@link ResourceSource} reports for an export with {@code _since}. */
public interface DeletionSink {

    /**
     * One deleted resource of the query's type.
     *
     * @param id          its logical id
     * @param deletedAt   when it was deleted
     * @param lastVersion the JSON of its last version before the deletion (to evaluate filters on), or null
     *                    if the source has none
     */
    void deleted(String id, Instant deletedAt, byte[] lastVersion) throws IOException;
}
