package dev.bulkfhir.providers.export;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Spots clients that poll a status URL much faster than the {@code Retry-After} they were given (the
 * IG says such a client SHOULD get 429): each running job gets a window as long as its last
 * Retry-After, and up to {@link #POLLS_PER_WINDOW} polls in it. Polling at the pace asked for, or a
 * little faster, never comes near that. One small entry per job polled recently, at most
 * {@link #MAX_JOBS} of them (the least recently polled are forgotten); per server node.
 */
final class PollThrottle {

    /**
     * Polls a window tolerates: a client at the pace asked for makes one, and one that checks a few
     * times a second (as test clients and impatient scripts do) stays under it; a loop does not.
     */
    static final int POLLS_PER_WINDOW = 30;
    private static final int MAX_JOBS = 10_000;

    private static final class Window {
        long startNanos;
        long lengthNanos;
        int polls;
    }

    private final Map<String, Window> windows = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Window> eldest) {
            return size() > MAX_JOBS;
        }
    };

    /**
     * Records a poll of the job that would be answered with {@code retryAfterSeconds}. Returns 0 if it
     * may be answered, else the seconds (at least 1) until its window ends, for a 429's Retry-After.
     */
    synchronized long poll(String jobId, long retryAfterSeconds, long nowNanos) {
        Window window = windows.computeIfAbsent(jobId, id -> new Window());
        if (window.polls == 0 || nowNanos - window.startNanos >= window.lengthNanos) {
            window.startNanos = nowNanos;
            window.lengthNanos = retryAfterSeconds * 1_000_000_000L;
            window.polls = 0;
        }
        window.polls++;
        if (window.polls <= POLLS_PER_WINDOW) {
            return 0;
        }
        long left = window.startNanos + window.lengthNanos - nowNanos;
        return Math.max(1, (left + 999_999_999L) / 1_000_000_000L);
    }

    /** The job finished or was cancelled: nothing left to throttle. */
    synchronized void forget(String jobId) {
        windows.remove(jobId);
    }
}
