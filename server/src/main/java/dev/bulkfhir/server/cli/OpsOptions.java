package dev.bulkfhir.server.cli;

import dev.bulkfhir.server.ops.LogFormat;
import dev.bulkfhir.server.ops.OpsSettings;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.util.Locale;

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

    @Option(names = "--log-format", paramLabel = "plain|json", defaultValue = "plain",
            converter = LogFormatConverter.class,
            description = "plain lines, or one JSON object per line for a log collector (default: ${DEFAULT-VALUE}).")
    LogFormat logFormat;

    OpsSettings settings() {
        return new OpsSettings(opsPort, requestLog);
    }

    static final class LogFormatConverter implements CommandLine.ITypeConverter<LogFormat> {
        @Override
        public LogFormat convert(String value) {
            return switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "plain" -> LogFormat.PLAIN;
                case "json" -> LogFormat.JSON;
                default -> throw new CommandLine.TypeConversionException("'" + value + "' is not plain or json");
            };
        }
    }
}
