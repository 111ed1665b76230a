package dev.bulkfhir.storage.source;

import java.io.IOException;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;

/**
 * What a Bulk Data export reads from. The built-in store is one implementation
 * ({@link StoreResourceSource}); an adapter over a HAPI JPA server's DAOs, or over any other database,
 * is another. An implementation answers four questions and streams one type at a time:
 *
 * <ul>
 *   <li>{@link #stream}: every resource of a type as it was at the export's transaction time, one JSON
 *       document per call of the sink, without collecting them first (read from a cursor, page by
 *       page, and hand each resource over as it comes);</li>
 *   <li>{@link #groupMembers}: the patients of a Group, for Group exports;</li>
 *   <li>{@link #existingPatients}: which of some patient ids exist, to check a kickoff's {@code patient};</li>
 *   <li>{@link #hasData}: whether a type can have anything at all, so that an export of all types does
 *       not query the hundred and more types a server never stored;</li>
 *   <li>{@link #transactionTime}: the time an export kicked off now is as of.</li>
 * </ul>
 *
 * Optionally, {@link #firstRange} cuts a large type into key ranges that several workers export at once;
 * the default keeps each type whole.
 *
 * <p>Implementations must be thread-safe: an export streams several types, or ranges, at once.
 *
 * <p>Memory: a source holds at most a bounded number of bytes of resources at a time (a page of rows is
 * cut short by size as well as by count), so that resources of several megabytes each export at a
 * small heap.
 */
public interface ResourceSource {

    /**
     * Hands every resource matching {@code query} to {@code sink}, each once, in any order, as the
     * canonical JSON of its version current at {@link ExportQuery#asOf()}: UTF-8, a single line (no
     * line breaks), {@code meta.versionId} and {@code meta.lastUpdated} included. A resource created
     * after {@code asOf}, or deleted at {@code asOf}, is not handed over; one updated after it is
     * handed over in its version as of then. A resource that cannot be read goes to
     * {@link ResourceSink#error} and the stream goes on.
     *
     * @throws IOException when the sink does (e.g. the disk is full); an exception thrown by the sink
     *                     to stop the export must pass through unchanged
     */
    void stream(ExportQuery query, ResourceSink sink) throws IOException;

    /**
     * Hands to {@code sink} every resource of the query's type, in its range, that is deleted at
     * {@link ExportQuery#asOf()} and was deleted after {@link ExportQuery#since()} (which is set), with its
     * last version; for a Patient or Group export only those whose last version was in scope. These
     * fill the manifest's {@code deleted} array. The default, for a source that keeps no deletions,
     * reports none.
     */
    default void streamDeleted(ExportQuery query, DeletionSink sink) throws IOException {
        // no deletions known
    }

    /**
     * One resource: the JSON of its version current at {@code asOf} (a Binary without its content),
     * empty if it did not exist then or was deleted. An export asks this for the targets of Provenance
     * ({@code includeAssociatedData}). The default, for a source that cannot read single resources,
     * finds none.
     */
    default Optional<byte[]> read(String type, String id, Instant asOf) {
        return Optional.empty();
    }

    /**
     * The first key range of {@code within} that holds about {@code rangeSize} resources of the type
     * (counting every stored row, whatever a query would filter), beginning where {@code within}
     * begins; {@code within} itself when it holds no more. The export takes a type range by range this
     * way, each by another worker. Where the cut falls may differ from one call to the next; what must
     * hold is that a resource keeps its key for good, so that a range exported before a restart holds
     * the same resources after it (a resumed job cuts only what is left between its done ranges). The
     * default, for a source without usable keys, is {@code within} whole; {@link #stream} then only
     * ever sees {@link KeyRange#ALL}.
     */
    default KeyRange firstRange(String type, KeyRange within, long rangeSize) {
        return within;
    }

    /**
     * The ids of the Patients that were members of the Group at {@code asOf} (its member entities that
     * are Patient references, leaving out inactive members); empty if there was no such Group then.
     */
    Optional<Set<String>> groupMembers(String groupId, Instant asOf);

    /**
     * {@link #groupMembers(String, Instant)} of a Group in a partition (tenant), by name, or null for all. The
     * default, for a source that does not partition its data, ignores the partition.
     */
    default Optional<Set<String>> groupMembers(String groupId, Instant asOf, String partition) {
        return groupMembers(groupId, asOf);
    }

    /** Those of {@code patientIds} that name a Patient that existed (and was not deleted) at {@code asOf}. */
    Set<String> existingPatients(Set<String> patientIds, Instant asOf);

    /**
     * {@link #existingPatients(Set, Instant)} in a partition (tenant), by name, or null for all. The default,
     * for a source that does not partition its data, ignores the partition.
     */
    default Set<String> existingPatients(Set<String> patientIds, Instant asOf, String partition) {
        return existingPatients(patientIds, asOf);
    }

    /** False only if the type certainly has nothing to export; true when in doubt. */
    boolean hasData(String type);

    /**
     * The transaction time for an export kicked off now (millisecond precision): a time at or before
     * which every write has committed and no new write can land. Clients pass it as the next export's
     * {@code _since}, so a write that is still open at the kickoff must be stamped after it, or it would
     * fall between two exports. The default, now, is right only for a source whose writes are
     * stamped at commit; the built-in store answers from its open write transactions.
     */
    default Instant transactionTime() {
        return Instant.ofEpochMilli(System.currentTimeMillis());
    }
}
