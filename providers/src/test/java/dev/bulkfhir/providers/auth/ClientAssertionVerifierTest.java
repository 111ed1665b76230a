package dev.bulkfhir.providers.auth;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.JSONObjectUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The converted client keys the verifier keeps follow the clients file. */
class ClientAssertionVerifierTest {

    private static final String TOKEN_URL = "http://localhost/fhir/auth/token";

    @Test
    void aKeyReplacedUnderTheSameKidIsHonouredAndTheOldOneRefused(@TempDir Path dir) throws Exception {
        JWK first = SigningKeys.generate(JWSAlgorithm.RS384);
        JWK second = new RSAKey.Builder((RSAKey) SigningKeys.generate(JWSAlgorithm.RS384))
                .keyID(first.getKeyID()).build();
        Path file = dir.resolve("clients.json");
        register(file, first, Instant.now().minusSeconds(60));
        ClientRegistry registry = ClientRegistry.load(file);
        ClientAssertionVerifier verifier = new ClientAssertionVerifier(registry, UsedAssertions.inMemory());

        for (int i = 0; i < 2; i++) { // the second use takes the key converted by the first
            assertEquals("app", verifier.verify(SigningKeys.clientAssertion(first, "app", TOKEN_URL), TOKEN_URL)
                    .clientId());
        }

        register(file, second, Instant.now());
        TokenError refused = assertThrows(TokenError.class,
                () -> verifier.verify(SigningKeys.clientAssertion(first, "app", TOKEN_URL), TOKEN_URL));
        assertEquals("invalid_client", refused.error());
        assertTrue(refused.getMessage().contains("rejected"), refused.getMessage());
        assertEquals("app", verifier.verify(SigningKeys.clientAssertion(second, "app", TOKEN_URL), TOKEN_URL)
                .clientId());
    }

    /** The clients file with client "app" and {@code key} only, modified at {@code modified}. */
    private static void register(Path file, JWK key, Instant modified) throws Exception {
        Map<String, Object> entry = Map.of("client_id", "app", "scope", "system/*.rs",
                "jwks", Map.of("keys", List.of(key.toPublicJWK().toJSONObject())));
        Files.writeString(file, "[" + JSONObjectUtils.toJSONString(entry) + "]");
        Files.setLastModifiedTime(file, FileTime.from(modified));
    }
}
