package dev.bulkfhir.storage.source;

/**
 * A slice of one type's resources by the source's own key (the built-in store: its row key), so that
 * several workers can export one large type at once. The slices of a type split its whole key space,
 * so each resource falls into exactly one.
 *
 * @param after the keys above this one (null: from the first)
 * @param upTo  up to and including this one (null: to the last)
 */
public record KeyRange(Long after, Long upTo) {

    /** Every key: the whole type. */
    public static final KeyRange ALL = new KeyRange(null, null);

    public KeyRange {
        if (after != null && upTo != null && upTo <= after) {
            throw new IllegalArgumentException("empty key range (" + after + ", " + upTo + "]");
        }
    }

    public boolean all() {
        return after == null && upTo == null;
    }

    /** The lowest key excluded below, for SQL: {@code key > afterOrMin()}. */
    public long afterOrMin() {
        return after == null ? Long.MIN_VALUE : after;
    }

    /** The highest key included, for SQL: {@code key <= upToOrMax()}. */
    public long upToOrMax() {
        return upTo == null ? Long.MAX_VALUE : upTo;
    }

    public boolean contains(long key) {
        return key > afterOrMin() && key <= upToOrMax();
    }
}
