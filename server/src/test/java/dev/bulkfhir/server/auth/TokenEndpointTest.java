package dev.bulkfhir.server.auth;

import dev.bulkfhir.providers.auth.SigningKeys;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The token endpoint with real RS384 and ES384 assertions: what it grants and each refusal. */
class TokenEndpointTest {

    @TempDir
    static Path dataDir;
    static AuthFixture auth;

    @BeforeAll
    static void start() throws Exception {
        auth = AuthFixture.start(dataDir);
    }

    @AfterAll
    static void stop() throws Exception {
        auth.close();
    }

    /** An RFC 6749 error: status 400, the error code, and a description that contains {@code why}. */
    static void assertError(HttpResponse<String> response, String error, String why) throws Exception {
        assertEquals(400, response.statusCode(), response.body());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        Map<String, Object> body = AuthFixture.json(response);
        assertEquals(error, body.get("error"), response.body());
        assertTrue(((String) body.get("error_description")).contains(why), response.body());
    }

    @Test
    void rs384AssertionGetsATokenWithTheGrantedScope() throws Exception {
        HttpResponse<String> response = auth.post(AuthFixture.form(auth.assertion("reader"), "system/*.read"));
        assertEquals(200, response.statusCode(), response.body());
        assertEquals("no-store", response.headers().firstValue("Cache-Control").orElse(null));
        Map<String, Object> body = AuthFixture.json(response);
        assertNotNull(body.get("access_token"));
        assertEquals("bearer", body.get("token_type"));
        assertEquals(300L, ((Number) body.get("expires_in")).longValue());
        assertEquals("system/*.read", body.get("scope"));
    }

    @Test
    void es384AssertionGetsAToken() throws Exception {
        HttpResponse<String> response = auth.post(AuthFixture.form(auth.assertion("admin"), "system/*.cruds"));
        assertEquals(200, response.statusCode(), response.body());
        assertEquals("system/*.cruds", AuthFixture.json(response).get("scope"));
    }

    @Test
    void grantedScopeIsWhatWasAskedCutToWhatIsRegistered() throws Exception {
        // narrow is registered for system/Patient.read system/Observation.rs
        Map<String, Object> wide = AuthFixture.json(auth.post(AuthFixture.form(auth.assertion("narrow"),
                "system/*.read")));
        assertEquals("system/Patient.read system/Observation.read", wide.get("scope"));
        Map<String, Object> some = AuthFixture.json(auth.post(AuthFixture.form(auth.assertion("narrow"),
                "system/Patient.rs system/Encounter.read launch")));
        assertEquals("system/Patient.rs", some.get("scope"));
        Map<String, Object> write = AuthFixture.json(auth.post(AuthFixture.form(auth.assertion("reader"),
                "system/*.cruds")));
        assertEquals("system/*.rs", write.get("scope"));
    }

    @Test
    void scopeOutsideTheRegistrationIsInvalidScope() throws Exception {
        assertError(auth.post(AuthFixture.form(auth.assertion("narrow"), "system/Encounter.read")),
                "invalid_scope", "registered for system/Patient.read system/Observation.rs");
        assertError(auth.post(AuthFixture.form(auth.assertion("reader"), "system/*.write")),
                "invalid_scope", "system/*.write");
        assertError(auth.post(AuthFixture.form(auth.assertion("reader"), "patient/*.read openid")),
                "invalid_scope", "patient/*.read");
    }

    @Test
    void expiredAssertionIsInvalidClient() throws Exception {
        Instant past = Instant.now().minusSeconds(600);
        JWTClaimsSet claims = auth.claims("reader").issueTime(Date.from(past.minusSeconds(60)))
                .expirationTime(Date.from(past)).build();
        assertError(auth.post(AuthFixture.form(sign("reader", claims), "system/*.read")), "invalid_client",
                "expired");
    }

    @Test
    void assertionLivingMoreThanFiveMinutesIsInvalidClient() throws Exception {
        JWTClaimsSet claims = auth.claims("reader").expirationTime(Date.from(Instant.now().plusSeconds(3600))).build();
        assertError(auth.post(AuthFixture.form(sign("reader", claims), "system/*.read")), "invalid_client",
                "more than 5 minutes ahead");
    }

    @Test
    void wrongAudienceIsInvalidClient() throws Exception {
        JWTClaimsSet claims = auth.claims("reader").audience("https://elsewhere.example/token").build();
        assertError(auth.post(AuthFixture.form(sign("reader", claims), "system/*.read")), "invalid_client",
                "aud");
    }

    @Test
    void badSignatureIsInvalidClient() throws Exception {
        // Signed by another RSA key, under the kid of reader's registered key.
        JWK impostor = SigningKeys.generate(JWSAlgorithm.RS384);
        String assertion = AuthFixture.sign(impostor, auth.keys.get("reader").getKeyID(), auth.claims("reader").build());
        assertError(auth.post(AuthFixture.form(assertion, "system/*.read")), "invalid_client", "Invalid signature");

        // An ES384 assertion whose signature was altered.
        String good = auth.assertion("admin");
        String[] parts = good.split("\\.");
        char last = parts[2].charAt(10);
        parts[2] = parts[2].substring(0, 10) + (last == 'A' ? 'B' : 'A') + parts[2].substring(11);
        assertError(auth.post(AuthFixture.form(String.join(".", parts), "system/*.read")), "invalid_client",
                "rejected");
    }

    @Test
    void unknownClientIsInvalidClient() throws Exception {
        JWK stranger = SigningKeys.generate(JWSAlgorithm.RS384);
        String assertion = AuthFixture.sign(stranger, stranger.getKeyID(), auth.claims("stranger").build());
        assertError(auth.post(AuthFixture.form(assertion, "system/*.read")), "invalid_client",
                "'stranger' is not registered");
    }

    @Test
    void unknownKidIsInvalidClient() throws Exception {
        String assertion = AuthFixture.sign(auth.keys.get("reader"), "no-such-kid", auth.claims("reader").build());
        assertError(auth.post(AuthFixture.form(assertion, "system/*.read")), "invalid_client",
                "no key with kid 'no-such-kid'");
    }

    @Test
    void replayedJtiIsInvalidClient() throws Exception {
        String assertion = auth.assertion("reader");
        assertEquals(200, auth.post(AuthFixture.form(assertion, "system/*.read")).statusCode());
        assertError(auth.post(AuthFixture.form(assertion, "system/*.read")), "invalid_client", "used before");
        // The same jti from another client is that client's own.
        String jti = "shared-jti-" + System.nanoTime();
        assertEquals(200, auth.post(AuthFixture.form(sign("reader", auth.claims("reader").jwtID(jti).build()),
                "system/*.read")).statusCode());
        assertEquals(200, auth.post(AuthFixture.form(sign("narrow", auth.claims("narrow").jwtID(jti).build()),
                "system/*.read")).statusCode());
    }

    @Test
    void missingOrEmptyJtiIsInvalidClient() throws Exception {
        assertError(auth.post(AuthFixture.form(sign("reader", auth.claims("reader").jwtID(null).build()),
                "system/*.read")), "invalid_client", "jti");
        for (String blank : new String[] {"", " "}) {
            // Twice: a blank jti would otherwise be one that every assertion shares.
            for (int attempt = 0; attempt < 2; attempt++) {
                assertError(auth.post(AuthFixture.form(sign("reader", auth.claims("reader").jwtID(blank).build()),
                        "system/*.read")), "invalid_client", "jti");
            }
        }
    }

    @Test
    void issAndSubMustBeTheClientId() throws Exception {
        JWTClaimsSet claims = auth.claims("reader").subject("someone-else").build();
        assertError(auth.post(AuthFixture.form(sign("reader", claims), "system/*.read")), "invalid_client",
                "iss and sub");
    }

    @Test
    void onlyRs384AndEs384AreAccepted() throws Exception {
        JWK rsa = auth.keys.get("reader");
        SignedJWT rs256 = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(rsa.getKeyID()).build(),
                auth.claims("reader").build());
        rs256.sign(SigningKeys.signer(rsa));
        assertError(auth.post(AuthFixture.form(rs256.serialize(), "system/*.read")), "invalid_client", "RS256");

        SignedJWT hs256 = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(rsa.getKeyID()).build(),
                auth.claims("reader").build());
        hs256.sign(new MACSigner(new byte[32]));
        assertError(auth.post(AuthFixture.form(hs256.serialize(), "system/*.read")), "invalid_client", "HS256");

        assertError(auth.post(AuthFixture.form("not-a-jwt", "system/*.read")), "invalid_client", "not a signed JWT");
    }

    @Test
    void unsupportedGrantType() throws Exception {
        Map<String, String> form = AuthFixture.form(auth.assertion("reader"), "system/*.read");
        form.put("grant_type", "authorization_code");
        assertError(auth.post(form), "unsupported_grant_type", "authorization_code");
    }

    @Test
    void missingOrMalformedParametersAreInvalidRequest() throws Exception {
        for (String missing : List.of("grant_type", "client_assertion_type", "client_assertion", "scope")) {
            Map<String, String> form = AuthFixture.form(auth.assertion("reader"), "system/*.read");
            form.remove(missing);
            assertError(auth.post(form), "invalid_request", missing);
        }
        Map<String, String> form = AuthFixture.form(auth.assertion("reader"), "system/*.read");
        form.put("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer");
        assertError(auth.post(form), "invalid_request", "client_assertion_type");

        HttpResponse<String> json = AuthFixture.http.send(HttpRequest.newBuilder(URI.create(auth.tokenUrl()))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(json, "invalid_request", "application/x-www-form-urlencoded");

        HttpResponse<String> get = AuthFixture.http.send(HttpRequest.newBuilder(URI.create(auth.tokenUrl())).GET()
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, get.statusCode());
        assertEquals("POST", get.headers().firstValue("Allow").orElse(null));
        assertEquals("invalid_request", AuthFixture.json(get).get("error"));
    }

    @Test
    void smartConfigurationDescribesTheTokenEndpoint() throws Exception {
        HttpResponse<String> response = auth.get("/.well-known/smart-configuration", null);
        assertEquals(200, response.statusCode(), response.body());
        Map<String, Object> body = AuthFixture.json(response);
        assertEquals(auth.tokenUrl(), body.get("token_endpoint"));
        assertEquals(List.of("client_credentials"), body.get("grant_types_supported"));
        assertEquals(List.of("private_key_jwt"), body.get("token_endpoint_auth_methods_supported"));
        assertEquals(List.of("RS384", "ES384"), body.get("token_endpoint_auth_signing_alg_values_supported"));
        assertTrue(((List<?>) body.get("scopes_supported")).contains("system/*.read"));
        assertTrue(((List<?>) body.get("capabilities")).containsAll(
                List.of("client-confidential-asymmetric", "permission-v1", "permission-v2")));
    }

    @Test
    void smartConfigurationIsAlsoAtTheHostRoot() throws Exception {
        HttpResponse<String> underBase = auth.get("/.well-known/smart-configuration", null);
        HttpResponse<String> atRoot = AuthFixture.http.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + auth.server.port() + "/.well-known/smart-configuration")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, atRoot.statusCode(), atRoot.body());
        assertTrue(atRoot.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        assertEquals(AuthFixture.json(underBase), AuthFixture.json(atRoot));
        assertEquals(auth.tokenUrl(), AuthFixture.json(atRoot).get("token_endpoint"));

        HttpResponse<String> post = AuthFixture.http.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + auth.server.port() + "/.well-known/smart-configuration"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode(), post.body());
        assertEquals("GET, HEAD", post.headers().firstValue("Allow").orElse(null));
    }

    @Test
    void clientsFileChangesNeedNoRestart() throws Exception {
        String clientId = "late-" + System.nanoTime();
        auth.register(clientId, JWSAlgorithm.ES384, "system/Patient.rs");
        assertEquals("system/Patient.rs", AuthFixture.json(auth.post(AuthFixture.form(auth.assertion(clientId),
                "system/*.rs"))).get("scope"));
    }

    private static String sign(String clientId, JWTClaimsSet claims) throws Exception {
        JWK key = auth.keys.get(clientId);
        return AuthFixture.sign(key, key.getKeyID(), claims);
    }
}
