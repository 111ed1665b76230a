package dev.bulkfhir.server.cli;

import dev.bulkfhir.server.ops.LogFormat;
import dev.bulkfhir.server.ops.OpsSettings;
import dev.bulkfhir.server.ops.Tls;
import dev.bulkfhir.server.ops.TlsSettings;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

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

    @Option(names = "--tls-keystore", paramLabel = "FILE",
            description = "Serve HTTPS (HTTP/2 and HTTP/1.1) on --port with the key and certificate chain in this"
                    + " PKCS12 file.")
    Path tlsKeystore;

    @Option(names = "--tls-keystore-password", paramLabel = "PASSWORD",
            description = "The password of --tls-keystore (better given as BULKFHIR_TLS_KEYSTORE_PASSWORD).")
    String tlsKeystorePassword;

    @Option(names = "--tls-key", paramLabel = "FILE",
            description = "Serve HTTPS with this PEM private key (unencrypted PKCS#8: -----BEGIN PRIVATE KEY-----),"
                    + " together with --tls-cert.")
    Path tlsKey;

    @Option(names = "--tls-cert", paramLabel = "FILE",
            description = "The PEM certificate chain of --tls-key, the server's certificate first.")
    Path tlsCert;

    @Option(names = "--http-redirect-port", paramLabel = "PORT",
            description = "With TLS: also listen for plain HTTP on this port and answer every request with a 308"
                    + " redirect to HTTPS.")
    Integer httpRedirectPort;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    OpsSettings settings() {
        TlsSettings tls = null;
        if (tlsKeystore != null || tlsKey != null || tlsCert != null) {
            try {
                tls = new TlsSettings(tlsKeystore, tlsKeystorePassword, tlsKey, tlsCert, httpRedirectPort);
                Tls.check(tls);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(command.commandLine(), e.getMessage());
            }
        } else if (httpRedirectPort != null) {
            throw new ParameterException(command.commandLine(), "--http-redirect-port redirects to HTTPS: give"
                    + " --tls-keystore, or --tls-key and --tls-cert, too.");
        }
        return new OpsSettings(opsPort, requestLog, tls);
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
