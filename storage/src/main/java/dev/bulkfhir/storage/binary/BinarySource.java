package dev.bulkfhir.storage.binary;

import java.util.Optional;

/**
 * Where Binary ids are looked up for reads and downloads. The built-in store is one source; export
 * files are served through the same Binary id space by another, so the read side never needs to
 * know which kind of Binary it serves.
 */
public interface BinarySource {

    /**
     * The Binary with this id: the current version when {@code version} is null. Empty when this
     * source does not know the id (or the version), including ids it could never hold. A deleted
     * version is returned with {@code deleted} set, so that callers can answer 410 rather than 404.
     */
    Optional<BinaryDocument> find(String id, Long version);

    /** Ids this source serves read-only: writes to them through the Binary endpoint are refused. */
    default boolean isReadOnly(String id) {
        return false;
    }
}
