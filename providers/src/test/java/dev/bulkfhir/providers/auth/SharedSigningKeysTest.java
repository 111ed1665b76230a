package dev.bulkfhir.providers.auth;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jwt.SignedJWT;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.auth.SigningKeyRepository;
import dev.bulkfhir.storage.auth.UsedAssertionRepository;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Two "nodes" (rings and issuers of their own) on one database, as several servers share one. */
class SharedSigningKeysTest {

    private static final List<SmartScope> READ_ALL = SmartScope.parseAll("system/*.rs");

    @Test
    void everyNodeVerifiesEveryNodesTokensAcrossRotations(@TempDir Path dir) throws Exception {
        try (Database database = Database.open(Database.h2Url(dir), null, null, 4)) {
            SigningKeyRepository keys = new SigningKeyRepository(database.dataSource());
            AccessTokenIssuer nodeA = new AccessTokenIssuer(SigningKeyRing.shared(keys, Duration.ofDays(30)),
                    Duration.ofMinutes(5));
            AccessTokenIssuer nodeB = new AccessTokenIssuer(SigningKeyRing.shared(keys, Duration.ofDays(30)),
                    Duration.ofMinutes(5));
            String fromA = nodeA.issue("app", READ_ALL);
            String fromB = nodeB.issue("app", READ_ALL);
            assertEquals(kid(fromA), kid(fromB), "the second node signs with the key the first one made");
            assertEquals("app", nodeB.verifier().verify(fromA).clientId());
            assertEquals("app", nodeA.verifier().verify(fromB).clientId());

            // A node with a short rotation makes a new key; the others verify it (found by kid) and the old one.
            AccessTokenIssuer rotating = new AccessTokenIssuer(SigningKeyRing.shared(keys, Duration.ofMillis(200)),
                    Duration.ofMinutes(5));
            AccessTokenVerifier verifierOfA = nodeA.verifier();
            String first = rotating.issue("app", READ_ALL);
            Thread.sleep(300);
            String second = rotating.issue("app", READ_ALL);
            assertNotEquals(kid(first), kid(second), "a new key after the rotation period");
            assertEquals("app", verifierOfA.verify(second).clientId());
            assertEquals("app", verifierOfA.verify(fromA).clientId(), "tokens of a retired key stay valid");
            assertEquals(kid(second), keys.current().orElseThrow().kid());
            assertTrue(keys.find(kid(fromA)).orElseThrow().retired() != null);
        }
    }

    @Test
    void theKeysInTheDatabaseAreSecretsAndAKeyPairOfAnEarlierVersionOnlyVerifies(@TempDir Path dir) throws Exception {
        try (Database database = Database.open(Database.h2Url(dir), null, null, 4)) {
            SigningKeyRepository keys = new SigningKeyRepository(database.dataSource());
            JWK earlier = SigningKeys.generate(JWSAlgorithm.ES256);
            Instant now = Instant.now();
            keys.rotate(earlier.getKeyID(), earlier.toJSONString(), now, now.minus(Duration.ofDays(2)));
            String before = new AccessTokenIssuer(earlier, Duration.ofMinutes(5)).issue("app", READ_ALL);

            AccessTokenIssuer node = new AccessTokenIssuer(SigningKeyRing.shared(keys, Duration.ofDays(30)),
                    Duration.ofMinutes(5));
            String after = node.issue("app", READ_ALL);
            assertEquals(JWSAlgorithm.HS256, SignedJWT.parse(after).getHeader().getAlgorithm());
            assertNotEquals(earlier.getKeyID(), kid(after), "a secret takes over from the key pair at once");
            assertEquals("app", node.verifier().verify(after).clientId());
            assertEquals("app", node.verifier().verify(before).clientId(), "the key pair's tokens stay valid");

            // Forgeries: MACed with the key pair's public key as the secret, or with a secret of one's own
            // under the ring's kid. Both are refused (no key of the right type, or a wrong MAC).
            AccessTokenVerifier verifier = node.verifier();
            JWK publicAsSecret = new OctetSequenceKey.Builder(earlier.toPublicJWK().toJSONString()
                    .getBytes(StandardCharsets.UTF_8)).keyID(earlier.getKeyID()).build();
            JWK otherSecret = new OctetSequenceKey.Builder(
                    ((OctetSequenceKey) SigningKeys.generate(JWSAlgorithm.HS256)).toByteArray()).keyID(kid(after)).build();
            for (JWK forger : List.of(publicAsSecret, otherSecret)) {
                String forged = new AccessTokenIssuer(forger, Duration.ofMinutes(5)).issue("app", READ_ALL);
                assertEquals(JWSAlgorithm.HS256, SignedJWT.parse(forged).getHeader().getAlgorithm());
                assertThrows(InvalidTokenException.class, () -> verifier.verify(forged), forger.getKeyID());
            }
        }
    }

    @Test
    void anAssertionIsTakenOnceWhicheverNodeSeesIt(@TempDir Path dir) {
        try (Database database = Database.open(Database.h2Url(dir), null, null, 4)) {
            UsedAssertions nodeA = UsedAssertions.inDatabase(new UsedAssertionRepository(database.dataSource()));
            UsedAssertions nodeB = UsedAssertions.inDatabase(new UsedAssertionRepository(database.dataSource()));
            Instant expires = Instant.now().plusSeconds(60);
            assertTrue(nodeA.firstUse("app", "jti-1", expires));
            assertFalse(nodeB.firstUse("app", "jti-1", expires));
            assertTrue(nodeB.firstUse("other", "jti-1", expires), "a jti is one client's");
            String longJti = "x".repeat(1000);
            assertTrue(nodeA.firstUse("app", longJti, expires));
            assertFalse(nodeB.firstUse("app", longJti, expires));
            // Expired rows go, so the table stays small: the same jti after its expiry is a new row.
            assertTrue(nodeA.firstUse("app", "jti-2", Instant.now().minusSeconds(1)));
            assertTrue(nodeB.firstUse("app", "jti-2", expires));
        }
    }

    @Test
    void assertionsArrivingTogetherAreEachTakenOnceOnly(@TempDir Path dir) throws Exception {
        try (Database database = Database.open(Database.h2Url(dir), null, null, 8)) {
            List<UsedAssertions> nodes = List.of(
                    UsedAssertions.inDatabase(new UsedAssertionRepository(database.dataSource())),
                    UsedAssertions.inDatabase(new UsedAssertionRepository(database.dataSource())));
            Instant expires = Instant.now().plusSeconds(60);
            int threads = 8;
            int jtis = 200;
            // Every thread offers every jti (its own order), on either node: each jti is first exactly once.
            AtomicInteger[] firsts = new AtomicInteger[jtis];
            Arrays.setAll(firsts, i -> new AtomicInteger());
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    UsedAssertions node = nodes.get(t % 2);
                    int offset = t * 7;
                    done.add(pool.submit(() -> {
                        for (int i = 0; i < jtis; i++) {
                            int jti = (i + offset) % jtis;
                            if (node.firstUse("app", "jti-" + jti, expires)) firsts[jti].incrementAndGet();
                        }
                        return null;
                    }));
                }
                for (Future<?> future : done) future.get();
            } finally {
                pool.shutdown();
            }
            for (int i = 0; i < jtis; i++) {
                assertEquals(1, firsts[i].get(), "jti-" + i);
            }
        }
    }

    private static String kid(String token) throws Exception {
        return SignedJWT.parse(token).getHeader().getKeyID();
    }
}
