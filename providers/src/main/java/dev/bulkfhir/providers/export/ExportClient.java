package dev.bulkfhir.providers.export;

import java.util.Set;

/**
 * Who is asking, as far as export is concerned.
 *
 * @param id                  owns the jobs it starts; status, cancel and downloads of a job answer
 *                            only to its owner (anyone else gets 404)
 * @param readableTypes       the resource types it may export; null means all
 * @param requiresAccessToken what the manifest says: whether downloads need the same token
 */
public record ExportClient(String id, Set<String> readableTypes, boolean requiresAccessToken) {

    /** The single owner while the server runs without authorization. */
    public static final ExportClient ANONYMOUS = new ExportClient("anonymous", null, false);

    public ExportClient {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("A client id is required");
        }
        readableTypes = readableTypes == null ? null : Set.copyOf(readableTypes);
    }

    public boolean mayRead(String type) {
        return readableTypes == null || readableTypes.contains(type);
    }
}
