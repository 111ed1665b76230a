package dev.bulkfhir.server;

import com.nimbusds.jose.JOSEException;
import dev.bulkfhir.providers.auth.AccessTokenIssuer;
import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SmartAuth;
import dev.bulkfhir.providers.auth.UsedAssertions;
import dev.bulkfhir.storage.auth.UsedAssertionRepository;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How the standalone server authorizes requests.
 *
 * @param enabled        false: every request is allowed (local trials only)
 * @param clientsFile    the registered clients; null: {@code clients.json} in the data directory
 * @param tokenLifetime  how long an access token is valid
 * @param signingKeyFile the server's private JWK, made on first start if missing; null: the signing
 *                       keys are kept in the database, shared by every node on it, and rotated
 * @param signingKeyRotation with the keys in the database: how long one key signs before a new one
 *                       takes over (older keys verify until their tokens expired)
 */
public record AuthSettings(boolean enabled, Path clientsFile, Duration tokenLifetime, Path signingKeyFile,
        Duration signingKeyRotation) {

    public static final Duration DEFAULT_TOKEN_LIFETIME = Duration.ofMinutes(5);
    public static final Duration DEFAULT_KEY_ROTATION = Duration.ofDays(30);

    public AuthSettings {
        if (tokenLifetime == null) {
            tokenLifetime = DEFAULT_TOKEN_LIFETIME;
        }
        if (signingKeyRotation == null) {
            signingKeyRotation = DEFAULT_KEY_ROTATION;
        }
        if (signingKeyRotation.isNegative() || signingKeyRotation.isZero()) {
            throw new IllegalArgumentException("The signing key rotation period must be positive");
        }
        if (tokenLifetime.isNegative() || tokenLifetime.isZero() || tokenLifetime.compareTo(Duration.ofDays(1)) > 0) {
            throw new IllegalArgumentException("The token lifetime must be between 1 second and 1 day, not "
                    + tokenLifetime.toSeconds() + " seconds");
        }
    }

    /** No authorization at all: what {@link ServerSettings#defaults} uses, for tests. */
    public static AuthSettings off() {
        return new AuthSettings(false, null, DEFAULT_TOKEN_LIFETIME, null, null);
    }

    /** Tokens required; clients from {@code clientsFile} (null: the data directory's). */
    public static AuthSettings on(Path clientsFile) {
        return new AuthSettings(true, clientsFile, DEFAULT_TOKEN_LIFETIME, null, null);
    }

    public AuthSettings withTokenLifetime(Duration lifetime) {
        return new AuthSettings(enabled, clientsFile, lifetime, signingKeyFile, signingKeyRotation);
    }

    public Path effectiveClientsFile(Path dataDir) {
        return clientsFile != null ? clientsFile : dataDir.resolve("clients.json");
    }

    /**
     * Reads the clients file and, from a file, the signing key (making it on first start); fails if
     * either is broken. Without a key file the keys and the used client assertions are kept in
     * {@code database}, so that every node on it accepts every node's tokens and refuses every replay.
     */
    public SmartAuth open(Path dataDir, DataSource database) throws IOException, JOSEException {
        if (!enabled) {
            LoggerFactory.getLogger(AuthSettings.class)
                    .warn("AUTH IS OFF: every request is served without a token. For local trials only.");
            return SmartAuth.off();
        }
        Path clients = effectiveClientsFile(dataDir);
        SmartAuth auth = signingKeyFile == null
                ? SmartAuth.shared(clients, database, tokenLifetime, signingKeyRotation)
                : SmartAuth.tokens(ClientRegistry.load(clients), AccessTokenIssuer.fromKeyFile(signingKeyFile,
                        tokenLifetime), UsedAssertions.inDatabase(new UsedAssertionRepository(database)));
        LoggerFactory.getLogger(AuthSettings.class).info("Auth is on: {} client(s) registered in {}",
                auth.clients().size(), auth.clients().file().toAbsolutePath());
        return auth;
    }
}
