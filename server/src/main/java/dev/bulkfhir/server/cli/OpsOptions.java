package dev.bulkfhir.server.cli;

import dev.bulkfhir.server.ops.OpsSettings;
import picocli.CommandLine.Option;

/** Metrics, health probes and logs of {@code serve}. */
final class OpsOptions {

    @Option(names = "--ops-port", paramLabel = "PORT",
            description = "Serve /metrics and /health/* on this port only (0 picks a free one), e.g. one that stays"
                    + " inside the cluster (default: on the main port, next to the FHIR base).")
    Integer opsPort;

    @Option(names = "--request-log", paramLabel = "on|off", defaultValue = "on", arity = "1",
            converter = AuthOptions.OnOff.class,
            description = "One line per request on the logger dev.bulkfhir.request (default: ${DEFAULT-VALUE}).")
    boolean requestLog;

    OpsSettings settings() {
        return new OpsSettings(opsPort, requestLog);
    }
}
