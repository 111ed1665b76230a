package dev.bulkfhir.providers.auth;

import com.nimbusds.jose.JWSAlgorithm;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AccessTokenVerifierTest {

    private static final List<SmartScope> READ_ALL = SmartScope.parseAll("system/*.rs");

    private static AccessTokenIssuer issuer(Duration lifetime) throws Exception {
        return new AccessTokenIssuer(SigningKeys.generate(JWSAlgorithm.ES256), lifetime);
    }

    @Test
    void aValidTokenIsCheckedOnceAndRememberedWithItsClient() throws Exception {
        AccessTokenIssuer issuer = issuer(Duration.ofMinutes(5));
        AccessTokenVerifier verifier = issuer.verifier();
        String token = issuer.issue("app", READ_ALL);
        ClientAccess first = verifier.verify(token);
        assertEquals("app", first.clientId());
        assertEquals(READ_ALL, first.scopes());
        assertSame(first, verifier.verify(token), "the second use is answered from what the first proved");
    }

    @Test
    void aTokenDifferingByOneCharacterFromARememberedOneIsCheckedAndRefused() throws Exception {
        AccessTokenIssuer issuer = issuer(Duration.ofMinutes(5));
        AccessTokenVerifier verifier = issuer.verifier();
        String token = issuer.issue("app", READ_ALL);
        verifier.verify(token);
        int last = token.length() - 2; // inside the signature
        String altered = token.substring(0, last) + (token.charAt(last) == 'A' ? 'B' : 'A') + token.substring(last + 1);
        assertThrows(InvalidTokenException.class, () -> verifier.verify(altered));
        String otherClaims = issuer.issue("other-app", READ_ALL);
        String spliced = otherClaims.substring(0, otherClaims.lastIndexOf('.')) + token.substring(token.lastIndexOf('.'));
        assertThrows(InvalidTokenException.class, () -> verifier.verify(spliced),
                "a remembered signature is no good on other claims");
    }

    @Test
    void anExpiredTokenIsRefusedAndNotRemembered() throws Exception {
        AccessTokenIssuer expired = issuer(Duration.ofSeconds(-AccessTokenVerifier.CLOCK_SKEW_SECONDS - 1));
        AccessTokenVerifier verifier = expired.verifier();
        String token = expired.issue("app", READ_ALL);
        for (int i = 0; i < 2; i++) {
            InvalidTokenException refused = assertThrows(InvalidTokenException.class, () -> verifier.verify(token));
            assertTrue(refused.getMessage().contains("expired"), refused.getMessage());
        }
    }

    @Test
    void anotherServersTokenIsRefused() throws Exception {
        String foreign = issuer(Duration.ofMinutes(5)).issue("app", READ_ALL);
        InvalidTokenException refused = assertThrows(InvalidTokenException.class,
                () -> issuer(Duration.ofMinutes(5)).verifier().verify(foreign));
        assertTrue(refused.getMessage().contains("not issued by this server"), refused.getMessage());
    }
}
