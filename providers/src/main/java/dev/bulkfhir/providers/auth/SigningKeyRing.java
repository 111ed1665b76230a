package dev.bulkfhir.providers.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import dev.bulkfhir.storage.auth.SigningKeyRepository;
import dev.bulkfhir.storage.auth.SigningKeyRepository.StoredKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The server's token signing keys: the one that signs now, and every one whose tokens may still be
 * valid. Either {@link #fixed one key} (from a file), or {@link #shared kept in the database} for
 * every node of a cluster: the newest key signs, a new one is made when it is older than the rotation
 * period, and a key made by another node is found by its kid when a token names it.
 *
 * <p>The keys in the database are HMAC secrets (HS256), not key pairs. Only the server's own nodes
 * ever verify its tokens (no key is published: the tokens are for this server alone), and every node
 * that verifies reads the very table that holds the signing key, so a public-key signature proves
 * nothing a MAC does not: whoever can verify a token can sign one either way. A 256-bit secret is at
 * least as strong as P-256, and costs about a microsecond per token where JDK 17's ES256 signature
 * cost 0.6 ms, half of the token endpoint's CPU. Verification takes an HS256 token only with a secret
 * of this ring chosen by its kid (Nimbus selects keys by the type the algorithm needs), so a public
 * key never serves as a secret. An ES256 key made by an earlier version keeps verifying its tokens
 * but signs no more: a secret replaces it at the first start.
 */
public abstract sealed class SigningKeyRing {

    /** The key that signs new tokens (private). */
    abstract JWK current() throws JOSEException;

    /**
     * The key that verifies the tokens of {@code kid}: the public part of a key pair, or a secret (which
     * signs and verifies alike); null if there is none (any more).
     */
    abstract JWK find(String kid);

    private static JWK verifying(JWK key) {
        return key instanceof OctetSequenceKey ? key : key.toPublicJWK();
    }

    /** One key, for ever: what {@code --signing-key FILE} gives. */
    public static SigningKeyRing fixed(JWK key) {
        return new Fixed(key);
    }

    /**
     * Keys in the database, shared by all nodes on it; a new key every {@code rotation}. A retired key
     * verifies for a day more (the longest token lifetime), then it is deleted.
     */
    public static SigningKeyRing shared(SigningKeyRepository keys, Duration rotation) {
        if (rotation == null || rotation.isNegative() || rotation.isZero()) {
            throw new IllegalArgumentException("the signing key rotation period must be positive");
        }
        return new Shared(keys, rotation);
    }

    private static final class Fixed extends SigningKeyRing {
        private final JWK key;

        Fixed(JWK key) {
            this.key = key;
        }

        @Override
        JWK current() {
            return key;
        }

        @Override
        JWK find(String kid) {
            return key.getKeyID().equals(kid) ? verifying(key) : null;
        }
    }

    private static final class Shared extends SigningKeyRing {
        private static final Logger log = LoggerFactory.getLogger(SigningKeyRing.class);
        /** How often a node looks for a key another node made since (it would also sign with its own). */
        private static final Duration RECHECK = Duration.ofMinutes(1);
        /** Longer than any token lives (at most a day), so no valid token loses its key. */
        private static final Duration KEEP_RETIRED = Duration.ofDays(1).plusMinutes(5);

        private final SigningKeyRepository keys;
        private final Duration rotation;
        private final Map<String, JWK> known = new ConcurrentHashMap<>();
        /** Kids just looked up in vain, briefly: a flood of made-up kids must not become a flood of queries. */
        private final Cache<String, Boolean> unknown = Caffeine.newBuilder().maximumSize(10_000)
                .expireAfterWrite(Duration.ofSeconds(2)).build();
        private volatile JWK current;
        private volatile Instant currentCreated = Instant.MIN;
        private volatile Instant checked = Instant.MIN;

        Shared(SigningKeyRepository keys, Duration rotation) {
            this.keys = keys;
            this.rotation = rotation;
        }

        @Override
        JWK current() throws JOSEException {
            Instant now = Instant.now();
            if (current == null || now.isAfter(checked.plus(RECHECK)) || !now.isBefore(currentCreated.plus(rotation))) {
                refresh(now);
            }
            return current;
        }

        private synchronized void refresh(Instant now) throws JOSEException {
            if (current != null && now.isBefore(checked.plus(RECHECK)) && now.isBefore(currentCreated.plus(rotation))) {
                return; // another thread just did
            }
            Optional<StoredKey> newest = keys.current();
            if (newest.isEmpty() || !now.isBefore(newest.get().created().plus(rotation))
                    || !(parse(newest.get()) instanceof OctetSequenceKey)) {
                JWK made = SigningKeys.generate(JWSAlgorithm.HS256);
                keys.rotate(made.getKeyID(), made.toJSONString(), now, now.minus(KEEP_RETIRED));
                log.info("Made a new token signing key {} (shared through the database)", made.getKeyID());
                // Two nodes rotating at once each made one: all sign with the newest, both verify.
                newest = keys.current();
            }
            StoredKey stored = newest.orElseThrow();
            current = parse(stored);
            currentCreated = stored.created();
            checked = now;
            known.put(stored.kid(), verifying(current));
        }

        @Override
        JWK find(String kid) {
            JWK key = known.get(kid);
            if (key != null || kid == null || unknown.getIfPresent(kid) != null) return key;
            Optional<StoredKey> stored = keys.find(kid);
            if (stored.isEmpty()) {
                unknown.put(kid, Boolean.TRUE);
                return null;
            }
            key = verifying(parse(stored.get()));
            known.put(kid, key);
            return key;
        }

        private static JWK parse(StoredKey stored) {
            try {
                return JWK.parse(stored.privateJwk());
            } catch (ParseException e) {
                throw new IllegalStateException("The signing key " + stored.kid() + " in the database is not a JWK", e);
            }
        }
    }
}
