package dev.bulkfhir.storage.resource;

import java.time.Instant;
import java.util.TreeMap;

/**
 * The lastUpdated stamps of this JVM's write transactions that have not committed (or rolled back)
 * yet, so that an export can pick a transaction time no write can still land at or before: a
 * {@code _since} chain of exports then misses no version. Stamps are taken here, under the same lock
 * as {@link #settledTime()} reads the oldest, in milliseconds (as lastUpdated is stored) and never
 * going backwards.
 *
 * <p>Per JVM: writes made by another server node sharing the database are not seen.
 */
public final class WritesInFlight {

    /** Stamp (epoch milliseconds) to the number of open transactions that hold it. */
    private final TreeMap<Long, Integer> open = new TreeMap<>();
    private long lastStamp = Long.MIN_VALUE;

    /** Takes a stamp for a write transaction that starts now; {@link #end} it when it commits or rolls back. */
    synchronized Instant begin() {
        long stamp = Math.max(lastStamp, System.currentTimeMillis());
        lastStamp = stamp;
        open.merge(stamp, 1, Integer::sum);
        return Instant.ofEpochMilli(stamp);
    }

    synchronized void end(Instant stamp) {
        open.computeIfPresent(stamp.toEpochMilli(), (key, count) -> count == 1 ? null : count - 1);
    }

    /**
     * The latest time at or before which every write of this JVM has committed (or rolled back), and
     * at or before which none can be stamped any more: a millisecond before both now and the oldest
     * open write's stamp.
     */
    public synchronized Instant settledTime() {
        long now = Math.max(lastStamp, System.currentTimeMillis());
        lastStamp = now;
        long oldest = open.isEmpty() ? now : Math.min(now, open.firstKey());
        return Instant.ofEpochMilli(oldest - 1);
    }
}
