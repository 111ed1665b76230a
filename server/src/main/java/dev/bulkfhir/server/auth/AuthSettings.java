package dev.bulkfhir.server.auth;

import com.nimbusds.jose.JOSEException;
import dev.bulkfhir.providers.auth.SmartAuth;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How the standalone server authorizes requests.
 *
 * @param enabled        false: every request is allowed (local trials only)
 * @param clientsFile    the registered clients; null: {@code clients.json} in the data directory
 * @param tokenLifetime  how long an access token is valid
 * @param signingKeyFile the server's private JWK; null: {@code signing-key.jwk} in the data
 *                       directory. Made on first start if missing.
 */
public record AuthSettings(boolean enabled, Path clientsFile, Duration tokenLifetime, Path signingKeyFile) {

    public static final Duration DEFAULT_TOKEN_LIFETIME = Duration.ofMinutes(5);

    public AuthSettings {
        if (tokenLifetime == null) {
            tokenLifetime = DEFAULT_TOKEN_LIFETIME;
        }
        if (tokenLifetime.isNegative() || tokenLifetime.isZero() || tokenLifetime.compareTo(Duration.ofDays(1)) > 0) {
            throw new IllegalArgumentException("The token lifetime must be between 1 second and 1 day, not "
                    + tokenLifetime.toSeconds() + " seconds");
        }
    }

    /** No authorization at all: what {@code ServerSettings.defaults(...)} uses, for tests. */
    public static AuthSettings off() {
        return new AuthSettings(false, null, DEFAULT_TOKEN_LIFETIME, null);
    }

    /** Tokens required; clients from {@code clientsFile} (null: the data directory's). */
    public static AuthSettings on(Path clientsFile) {
        return new AuthSettings(true, clientsFile, DEFAULT_TOKEN_LIFETIME, null);
    }

    public AuthSettings withTokenLifetime(Duration lifetime) {
        return new AuthSettings(enabled, clientsFile, lifetime, signingKeyFile);
    }

    public Path effectiveClientsFile(Path dataDir) {
        return clientsFile != null ? clientsFile : dataDir.resolve("clients.json");
    }

    public Path effectiveSigningKeyFile(Path dataDir) {
        return signingKeyFile != null ? signingKeyFile : dataDir.resolve("signing-key.jwk");
    }

    /** Reads the clients file and the signing key (making it on first start); fails if either is broken. */
    public SmartAuth open(Path dataDir) throws IOException, JOSEException {
        if (!enabled) {
            LoggerFactory.getLogger(AuthSettings.class)
                    .warn("AUTH IS OFF: every request is served without a token. For local trials only.");
            return SmartAuth.off();
        }
        SmartAuth auth = SmartAuth.tokens(effectiveClientsFile(dataDir), effectiveSigningKeyFile(dataDir), tokenLifetime);
        LoggerFactory.getLogger(AuthSettings.class).info("Auth is on: {} client(s) registered in {}",
                auth.clients().size(), auth.clients().file().toAbsolutePath());
        return auth;
    }
}
