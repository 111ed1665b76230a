package dev.bulkfhir.server.bench;

import java.util.concurrent.ConcurrentLinkedQueue;

/** Request times collected from many threads, and the one line a benchmark prints about them. */
final class Latencies {

    private final ConcurrentLinkedQueue<Double> millis = new ConcurrentLinkedQueue<>();

    void add(long startNanos) {
        millis.add((System.nanoTime() - startNanos) / 1e6);
    }

    /** e.g. {@code poll: 50 clients, 5000 requests, 3.2 s, 1562 req/s, p50 1.1 ms, p99 4.0 ms}. */
    String summary(String what, int clients, double seconds) {
        double[] sorted = millis.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (sorted.length == 0) {
            return what + ": no requests";
        }
        return String.format("%s: %d clients, %d requests, %.1f s, %.0f req/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                what, clients, sorted.length, seconds, sorted.length / seconds, sorted[sorted.length / 2],
                sorted[(int) Math.ceil(sorted.length * 0.99) - 1], sorted[sorted.length - 1]);
    }
}
