package dev.bulkfhir.server.ops;

/**
 * Metrics, health and the request log of the standalone server.
 *
 * @param opsPort    null: {@code /metrics} and {@code /health/*} on the main port; else only on this
 *                   port (0 picks a free one), which can stay inside the cluster
 * @param requestLog one line per request on the logger {@code dev.bulkfhir.request}
 * @param tls        null: plain HTTP on the main port; else HTTPS (HTTP/2 and HTTP/1.1) there
 */
public record OpsSettings(Integer opsPort, boolean requestLog, TlsSettings tls) {

    /** Without TLS. */
    public OpsSettings(Integer opsPort, boolean requestLog) {
        this(opsPort, requestLog, null);
    }

    public static OpsSettings defaults() {
        return new OpsSettings(null, true);
    }

    public OpsSettings withTls(TlsSettings newTls) {
        return new OpsSettings(opsPort, requestLog, newTls);
    }
}
