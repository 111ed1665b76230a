package dev.bulkfhir.server.cli;

import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.AuthSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.providers.auth.SmartAuth;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/** SMART Backend Services settings of {@code serve}. */
final class AuthOptions {

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--auth", paramLabel = "on|off", defaultValue = "on", arity = "1", converter = OnOff.class,
            description = "Require SMART Backend Services access tokens (default: ${DEFAULT-VALUE})."
                    + " off serves everything to everyone: for local trials only.")
    boolean auth;

    @Option(names = "--clients", paramLabel = "FILE",
            description = "Registered clients: a JSON array of RFC 7591 client metadata (client_id, jwks or"
                    + " jwks_uri, scope). keygen --clients FILE adds to it; it is re-read when it changes"
                    + " (default: clients.json in the data directory).")
    Path clients;

    @Option(names = "--token-lifetime", paramLabel = "SECONDS", defaultValue = "300",
            description = "How long an access token is valid (default: ${DEFAULT-VALUE}).")
    long tokenLifetime;

    @Option(names = "--signing-key", paramLabel = "FILE",
            description = "A private JWK file that signs access tokens, for ever; made on first start if missing"
                    + " (default: none: the signing keys are kept in the database, shared by every node on it,"
                    + " and rotated, see --signing-key-rotation).")
    Path signingKey;

    @Option(names = "--signing-key-rotation", paramLabel = "DURATION", defaultValue = "30d",
            description = "Without --signing-key: how long one signing key signs before a new one takes over, e.g."
                    + " 30d, 12h; tokens signed with older keys stay valid until they expire (default: ${DEFAULT-VALUE}).")
    String signingKeyRotation;

    AuthSettings settings() {
        if (tokenLifetime < 1 || tokenLifetime > Duration.ofDays(1).toSeconds()) {
            throw new CommandLine.ParameterException(command.commandLine(),
                    "--token-lifetime must be between 1 and 86400 seconds, not " + tokenLifetime);
        }
        Duration rotation;
        try {
            rotation = ExportSettings.parseDuration(signingKeyRotation);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(command.commandLine(), "--signing-key-rotation: " + e.getMessage());
        }
        if (rotation == null || rotation.isZero() || rotation.isNegative()) {
            throw new CommandLine.ParameterException(command.commandLine(),
                    "--signing-key-rotation must be a positive duration, e.g. 30d");
        }
        return new AuthSettings(auth, clients, Duration.ofSeconds(tokenLifetime), signingKey, rotation);
    }

    /** The banner's auth lines: how to get a token, or a loud warning when there is no auth. */
    void printBanner(StandaloneServer server, boolean demo, PrintStream out) {
        SmartAuth smart = server.auth();
        if (!smart.issuesTokens()) {
            out.println("  auth:  OFF");
            out.println("  ****************************************************************");
            out.println("  *  WARNING: --auth off. Anyone who can reach this port can read *");
            out.println("  *  and change every resource. Use it for local trials only.     *");
            out.println("  ****************************************************************");
            return;
        }
        String base = server.baseUrl();
        Path file = smart.clients().file().toAbsolutePath().normalize();
        int count = smart.clients().size();
        out.println("  auth:  on (SMART Backend Services), token endpoint " + base + SmartAuth.TOKEN_PATH);
        out.println("  clients: " + count + " registered in " + file + " (re-read when it changes)");
        if (demo || count == 0) {
            String jar = KeygenCommand.jarCommand();
            out.println("  get a token (docs/auth.md walks the whole flow):");
            out.println("    " + jar + " keygen --client-id demo-client --clients " + file);
            out.println("    TOKEN=$(" + jar + " token --key demo-client.jwk --client-id demo-client --server " + base
                    + ")");
            out.println("    curl -H \"Authorization: Bearer $TOKEN\" " + base + "/Patient");
        }
    }

    /** on/off, as the flag, the environment variable and the config file write it. */
    static final class OnOff implements CommandLine.ITypeConverter<Boolean> {
        @Override
        public Boolean convert(String value) {
            return switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "on", "true", "yes" -> true;
                case "off", "false", "no" -> false;
                default -> throw new CommandLine.TypeConversionException("'" + value + "' is not on or off");
            };
        }
    }
}
