package dev.bulkfhir.providers.auth;

import com.nimbusds.jwt.SignedJWT;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.auth.SigningKeyRepository;
import dev.bulkfhir.storage.auth.UsedAssertionRepository;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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

    private static String kid(String token) throws Exception {
        return SignedJWT.parse(token).getHeader().getKeyID();
    }
}
