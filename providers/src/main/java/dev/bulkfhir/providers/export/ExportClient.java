package dev.bulkfhir.providers.export;

import java.util.List;
import java.util.Set;

/**
 * Who is asking, as far as export is concerned. Export owns this view; whoever authorizes requests
 * supplies it through a {@link ClientIdentity} (the plugin adapts the bearer interceptor's client).
 *
 * @param id                  owns the jobs it starts; status, cancel and downloads of a job answer
 *                            only to its owner (anyone else gets 404)
 * @param readableTypes       the resource types it may export; null means all
 * @param requiresAccessToken what the manifest says: whether downloads need the same token
 * @param typeCheck           the kickoff's one check of {@code _type} against what the client may read
 */
public record ExportClient(String id, Set<String> readableTypes, boolean requiresAccessToken, TypeCheck typeCheck) {

    /** The single owner while the server runs without authorization: may export every type. */
    public static final ExportClient ANONYMOUS = new ExportClient("anonymous", null, false, types -> { });

    public ExportClient {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("A client id is required");
        }
        readableTypes = readableTypes == null ? null : Set.copyOf(readableTypes);
    }

    public boolean mayRead(String type) {
        return readableTypes == null || readableTypes.contains(type);
    }

    /** Whether a client may export the types a kickoff's {@code _type} names. */
    @FunctionalInterface
    public interface TypeCheck {

        /**
         * Refuses (HAPI's {@code ForbiddenOperationException}, 403, saying what the client lacks) unless
         * the client may read every one of {@code types} or, when {@code _type} names no known type
         * ({@code types} empty), at least one type.
         *
         * @param types the resource types {@code _type} names, in its order (query string and body alike)
         */
        void requireExport(List<String> types);
    }
}
