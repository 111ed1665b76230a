package dev.bulkfhir.server.ops;

/**
 * Metrics, health and the request log of the standalone server.
 *
 * @param opsPort    null: {@code /metrics} and {@code /health/*} on the main port; else only on this
 *                   port (0 picks a free one), which can stay inside the cluster
 * @param requestLog one line per request on the logger {@code dev.bulkfhir.request}
 */
public record OpsSettings(Integer opsPort, boolean requestLog) {

    public static OpsSettings defaults() {
        return new OpsSettings(null, true);
    }
}
