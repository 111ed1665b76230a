package dev.bulkfhir.storage.resource;

import java.time.Instant;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A search over current, non-deleted resources of one type, in storage order.
 *
 * @param ids           only these logical ids (empty: any)
 * @param updatedFrom   lastUpdated at or after this instant (null: no bound)
 * @param updatedBefore lastUpdated strictly before this instant (null: no bound)
 * @param patientId     only resources in this patient's compartment (null: any)
 * @param filter        a check the index cannot make, applied to each candidate
 * @param count         the page size
 * @param cursor        where the page starts (null: the first page)
 */
public record ResourceQuery(
        String type,
        Set<String> ids,
        Instant updatedFrom,
        Instant updatedBefore,
        String patientId,
        Predicate<StoredResource> filter,
        int count,
        Cursor cursor) {

    /** A position between two stored rows: after or before a storage key. */
    public record Cursor(boolean forward, long key) {

        public static Cursor parse(String text) {
            if (text == null || text.length() < 2 || (text.charAt(0) != 'a' && text.charAt(0) != 'b')) {
                throw new IllegalArgumentException("Invalid page id: " + text);
            }
            try {
                return new Cursor(text.charAt(0) == 'a', Long.parseLong(text.substring(1)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("Invalid page id: " + text);
            }
        }

        @Override
        public String toString() {
            return (forward ? "a" : "b") + key;
        }
    }

    public ResourceQuery withCursor(Cursor newCursor) {
        return new ResourceQuery(type, ids, updatedFrom, updatedBefore, patientId, filter, count, newCursor);
    }
}
