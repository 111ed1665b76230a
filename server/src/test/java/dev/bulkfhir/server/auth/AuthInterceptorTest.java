package dev.bulkfhir.server.auth;

import dev.bulkfhir.providers.auth.AccessTokenIssuer;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.auth.SigningKeyRepository;
import org.h2.jdbcx.JdbcDataSource;
import dev.bulkfhir.providers.auth.SigningKeys;
import ca.uhn.fhir.context.FhirContext;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import dev.bulkfhir.providers.auth.SmartScope;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Extension;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.net.URI;
import java.net.http.HttpRequest;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bearer interceptor over real HTTP: who gets in, and the 401 and 403 answers. */
class AuthInterceptorTest {

    static final FhirContext context = FhirContext.forR4Cached();

    @TempDir
    static Path dataDir;
    static AuthFixture auth;
    static String adminToken;

    @BeforeAll
    static void start() throws Exception {
        auth = AuthFixture.start(dataDir);
        adminToken = auth.token("admin", "system/*.*");
        created(auth.send("PUT", "/Patient/p1", adminToken, "application/fhir+json",
                "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"Lovelace\"}]}"));
        created(auth.send("PUT", "/Observation/o1", adminToken, "application/fhir+json",
                "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
                        + "\"subject\":{\"reference\":\"Patient/p1\"}}"));
        created(auth.send("PUT", "/Encounter/e1", adminToken, "application/fhir+json",
                "{\"resourceType\":\"Encounter\",\"id\":\"e1\",\"status\":\"finished\",\"class\":{\"code\":\"AMB\"}}"));
        created(auth.send("PUT", "/Binary/b1", adminToken, "text/plain", "secret bytes"));
    }

    @AfterAll
    static void stop() throws Exception {
        auth.close();
    }

    static void created(HttpResponse<String> response) {
        assertTrue(response.statusCode() == 200 || response.statusCode() == 201, response.body());
    }

    static String diagnostics(HttpResponse<String> response) {
        OperationOutcome outcome = context.newJsonParser().parseResource(OperationOutcome.class, response.body());
        return outcome.getIssueFirstRep().getDiagnostics();
    }

    /** 401, a Bearer challenge ({@code error="invalid_token"} when a token was sent), an OperationOutcome. */
    static void assertUnauthorized(HttpResponse<String> response, boolean tokenGiven, String why) {
        assertEquals(401, response.statusCode(), response.body());
        String challenge = response.headers().firstValue("WWW-Authenticate").orElse("");
        assertTrue(challenge.startsWith("Bearer"), challenge);
        assertEquals(tokenGiven, challenge.contains("error=\"invalid_token\""), challenge);
        assertTrue(diagnostics(response).contains(why), response.body());
    }

    static void assertForbidden(HttpResponse<String> response, String missingScope) {
        assertEquals(403, response.statusCode(), response.body());
        OperationOutcome outcome = context.newJsonParser().parseResource(OperationOutcome.class, response.body());
        assertEquals(OperationOutcome.IssueType.FORBIDDEN, outcome.getIssueFirstRep().getCode());
        assertTrue(outcome.getIssueFirstRep().getDiagnostics().contains(missingScope), response.body());
    }

    @Test
    void tokenFromTheEndpointReadsFhirData() throws Exception {
        String token = auth.token("reader", "system/*.read");
        HttpResponse<String> patient = auth.get("/Patient/p1", token);
        assertEquals(200, patient.statusCode(), patient.body());
        assertTrue(patient.body().contains("Lovelace"));
        assertEquals(200, auth.get("/Observation?patient=Patient/p1", token).statusCode());
        assertEquals(200, auth.get("/Patient/p1/_history", token).statusCode());
    }

    @Test
    void es384ClientRoundTrip() throws Exception {
        String token = auth.token("admin", "system/*.cruds");
        assertEquals(200, auth.get("/Encounter/e1", token).statusCode());
        created(auth.send("PUT", "/Patient/p-es", token, "application/fhir+json",
                "{\"resourceType\":\"Patient\",\"id\":\"p-es\"}"));
    }

    @Test
    void missingTokenIs401WithABearerChallenge() throws Exception {
        assertUnauthorized(auth.get("/Patient/p1", null), false, "needs an access token");
        assertUnauthorized(auth.get("/Patient", null), false, "needs an access token");
        assertUnauthorized(auth.get("/Binary/b1", null), false, "needs an access token");
        assertUnauthorized(auth.get("/Binary/b1/$binary-access-read", null), false, "needs an access token");
        assertUnauthorized(auth.get("/Binary/b1/$export-download", null), false, "needs an access token");
        assertUnauthorized(auth.get("/$export", null), false, "needs an access token");
        assertUnauthorized(auth.send("DELETE", "/Patient/p1", null, null, null), false, "needs an access token");
        assertUnauthorized(auth.send("POST", "/Patient", null, "application/fhir+json",
                "{\"resourceType\":\"Patient\"}"), false, "needs an access token");
    }

    @Test
    void metadataAndDiscoveryNeedNoToken() throws Exception {
        HttpResponse<String> metadata = auth.get("/metadata", null);
        assertEquals(200, metadata.statusCode(), metadata.body());
        CapabilityStatement statement = context.newJsonParser().parseResource(CapabilityStatement.class,
                metadata.body());
        CapabilityStatement.CapabilityStatementRestSecurityComponent security = statement.getRestFirstRep().getSecurity();
        assertEquals("SMART-on-FHIR", security.getServiceFirstRep().getCodingFirstRep().getCode());
        assertEquals("http://terminology.hl7.org/CodeSystem/restful-security-service",
                security.getServiceFirstRep().getCodingFirstRep().getSystem());
        Extension oauthUris = security.getExtensionByUrl(
                "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
        assertEquals(auth.tokenUrl(), oauthUris.getExtensionByUrl("token").getValue().primitiveValue());
        assertEquals(200, auth.get("/.well-known/smart-configuration", null).statusCode());
    }

    @Test
    void expiredTokenIs401() throws Exception {
        // The server's own current key, from the database it shares with any other node.
        JdbcDataSource database = new JdbcDataSource();
        database.setURL(Database.h2Url(dataDir));
        JWK serverKey = JWK.parse(new SigningKeyRepository(database).current().orElseThrow().privateJwk());
        String expired = new AccessTokenIssuer(serverKey, Duration.ofMinutes(-2))
                .issue("reader", SmartScope.parseAll("system/*.read"));
        assertUnauthorized(auth.get("/Patient/p1", expired), true, "expired");
    }

    @Test
    void tamperedTokenIs401() throws Exception {
        String token = auth.token("narrow", "system/Patient.read");
        String[] parts = token.split("\\.");
        String claims = new String(Base64.getUrlDecoder().decode(parts[1]));
        String widened = claims.replace("system/Patient.read", "system/*.*");
        assertFalse(claims.equals(widened));
        parts[1] = Base64.getUrlEncoder().withoutPadding().encodeToString(widened.getBytes());
        assertUnauthorized(auth.get("/Encounter/e1", String.join(".", parts)), true, "Invalid signature");
        assertUnauthorized(auth.get("/Patient/p1", "not-a-token"), true, "not a JWT");
    }

    @Test
    void tokenSignedByAnotherKeyIs401() throws Exception {
        String forged = new AccessTokenIssuer(SigningKeys.generate(JWSAlgorithm.ES256), Duration.ofMinutes(5))
                .issue("admin", SmartScope.parseAll("system/*.*"));
        assertUnauthorized(auth.get("/Patient/p1", forged), true, "not issued by this server");
    }

    @Test
    void clientAssertionIsNotAnAccessToken() throws Exception {
        assertUnauthorized(auth.get("/Patient/p1", auth.assertion("reader")), true, "not issued by this server");
    }

    @Test
    void tooNarrowScopeIs403NamingTheScope() throws Exception {
        String token = auth.token("narrow", "system/Patient.read system/Observation.rs");
        assertEquals(200, auth.get("/Patient/p1", token).statusCode());
        assertEquals(200, auth.get("/Observation/o1", token).statusCode());
        assertForbidden(auth.get("/Encounter/e1", token), "system/Encounter.read");
        assertForbidden(auth.get("/Encounter", token), "system/Encounter.read (SMART v2: system/Encounter.s)");
        assertForbidden(auth.send("DELETE", "/Patient/p1", token, null, null), "system/Patient.write");
        assertForbidden(auth.send("PUT", "/Patient/p1", token, "application/fhir+json",
                "{\"resourceType\":\"Patient\",\"id\":\"p1\"}"), "system/Patient.write (SMART v2: system/Patient.u)");
        assertEquals(200, auth.get("/Patient/p1", token).statusCode(), "the refused update changed nothing");
    }

    @Test
    void v2ScopesGrantExactlyTheirLetters() throws Exception {
        auth.register("searcher", JWSAlgorithm.ES384, "system/Observation.s system/Patient.r");
        String token = auth.token("searcher", "system/Observation.s system/Patient.r");
        assertEquals(200, auth.get("/Observation?patient=Patient/p1", token).statusCode());
        assertForbidden(auth.get("/Observation/o1", token), "system/Observation.r");
        assertEquals(200, auth.get("/Patient/p1", token).statusCode());
        assertForbidden(auth.get("/Patient", token), "system/Patient.s");
    }

    @Test
    void binaryReadsAndDownloadsNeedBinaryRead() throws Exception {
        String narrow = auth.token("narrow", "system/Patient.read");
        assertForbidden(auth.get("/Binary/b1", narrow), "system/Binary.read");
        assertForbidden(auth.get("/Binary/b1/$binary-access-read", narrow), "system/Binary.read");
        assertForbidden(auth.get("/Binary/b1/$export-download", narrow), "system/Binary.read");
        String reader = auth.token("reader", "system/*.read");
        HttpResponse<String> bytes = auth.get("/Binary/b1", reader);
        assertEquals(200, bytes.statusCode(), bytes.body());
        assertEquals("secret bytes", bytes.body());
        assertEquals("secret bytes", auth.get("/Binary/b1/$binary-access-read", reader).body());
    }

    @Test
    void writesNeedWrite() throws Exception {
        String reader = auth.token("reader", "system/*.read");
        assertForbidden(auth.send("POST", "/Patient", reader, "application/fhir+json",
                "{\"resourceType\":\"Patient\"}"), "system/Patient.write (SMART v2: system/Patient.c)");
        assertForbidden(auth.send("PUT", "/Binary/b2", reader, "text/plain", "x"), "system/Binary.write");
        assertForbidden(auth.send("POST", "", reader, "application/fhir+json",
                "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[]}"), "system/*.*");
    }

    @Test
    void exportNeedsReadOnEveryRequestedType() throws Exception {
        String narrow = auth.token("narrow", "system/Patient.read system/Observation.rs");
        HttpResponse<String> refused = auth.get("/$export?_type=Patient,Encounter", narrow);
        assertForbidden(refused, "system/Encounter.read (SMART v2: system/Encounter.rs)");
        auth.register("writer-only", JWSAlgorithm.RS384, "system/*.write");
        String writer = auth.token("writer-only", "system/*.write");
        assertForbidden(auth.get("/$export", writer), "system/*.read");
    }

    @Test
    void pagesNeedATokenToo() throws Exception {
        created(auth.send("PUT", "/Patient/p2", adminToken, "application/fhir+json",
                "{\"resourceType\":\"Patient\",\"id\":\"p2\"}"));
        String token = auth.token("narrow", "system/Patient.read");
        HttpResponse<String> first = auth.get("/Patient?_count=1", token);
        assertEquals(200, first.statusCode(), first.body());
        String next = context.newJsonParser().parseResource(Bundle.class, first.body()).getLink("next").getUrl();
        HttpRequest.Builder page = HttpRequest.newBuilder(URI.create(next)).GET();
        assertEquals(200, AuthFixture.http.send(page.header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        assertUnauthorized(AuthFixture.http.send(HttpRequest.newBuilder(URI.create(next)).GET().build(),
                HttpResponse.BodyHandlers.ofString()), false, "needs an access token");
    }

    @Test
    void aPageOfTypesTheTokenMayNotReadIs403() throws Exception {
        created(auth.send("PUT", "/Encounter/e2", adminToken, "application/fhir+json",
                "{\"resourceType\":\"Encounter\",\"id\":\"e2\",\"status\":\"finished\",\"class\":{\"code\":\"AMB\"}}"));
        HttpResponse<String> first = auth.get("/Encounter?_count=1", adminToken);
        String next = context.newJsonParser().parseResource(Bundle.class, first.body()).getLink("next").getUrl();
        // Page links carry the search: one that reaches another client shows it nothing it may not read.
        String narrow = auth.token("narrow", "system/Patient.read");
        assertForbidden(AuthFixture.http.send(HttpRequest.newBuilder(URI.create(next)).GET()
                .header("Authorization", "Bearer " + narrow).build(), HttpResponse.BodyHandlers.ofString()),
                "system/Encounter.read");
    }

    /** How many Patients are stored, as a client with every scope sees it. */
    static int patientCount() throws Exception {
        HttpResponse<String> search = auth.get("/Patient?_count=1000", adminToken);
        assertEquals(200, search.statusCode(), search.body());
        Bundle bundle = context.newJsonParser().parseResource(Bundle.class, search.body());
        assertFalse(bundle.hasLink() && bundle.getLink("next") != null, "one page holds them all");
        return bundle.getEntry().size();
    }

    @Test
    void aCreateOnlyTokenCreatesOnceAndGetsNoCopyBack() throws Exception {
        auth.register("creator", JWSAlgorithm.RS384, "system/Patient.c");
        String creator = auth.token("creator", "system/Patient.c");
        int before = patientCount();
        for (String prefer : new String[] {null, "return=representation"}) {
            HttpRequest.Builder post = HttpRequest.newBuilder(URI.create(auth.base() + "/Patient"))
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Once\"}]}"))
                    .header("Content-Type", "application/fhir+json").header("Authorization", "Bearer " + creator);
            if (prefer != null) {
                post.header("Prefer", prefer);
            }
            HttpResponse<String> created = AuthFixture.http.send(post.build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(201, created.statusCode(), created.body());
            String location = created.headers().firstValue("Location").orElseThrow();
            assertTrue(location.startsWith(auth.server.baseUrl() + "/Patient/"), location);
            OperationOutcome outcome = context.newJsonParser().parseResource(OperationOutcome.class, created.body());
            assertEquals(OperationOutcome.IssueSeverity.INFORMATION, outcome.getIssueFirstRep().getSeverity());
            assertTrue(outcome.getIssueFirstRep().getDiagnostics().contains("Created Patient/"), created.body());
            assertFalse(created.body().contains("Once"), created.body());
            // The new resource is there, once.
            String id = location.split("/Patient/")[1].split("/")[0];
            assertEquals(200, auth.get("/Patient/" + id, adminToken).statusCode());
        }
        assertEquals(before + 2, patientCount(), "each create stored exactly one Patient");
        assertForbidden(auth.get("/Patient/p1", creator), "system/Patient.read");
    }

    @Test
    void aRefusedCreateStoresNothing() throws Exception {
        int before = patientCount();
        String reader = auth.token("reader", "system/*.read");
        assertForbidden(auth.send("POST", "/Patient", reader, "application/fhir+json",
                "{\"resourceType\":\"Patient\"}"), "system/Patient.c");
        auth.register("observer-creator", JWSAlgorithm.RS384, "system/Observation.c");
        String other = auth.token("observer-creator", "system/Observation.c");
        assertForbidden(auth.send("POST", "/Patient", other, "application/fhir+json",
                "{\"resourceType\":\"Patient\"}"), "system/Patient.c");
        assertEquals(before, patientCount());
    }

    @Test
    void anUpdateOnlyTokenUpdatesAndGetsNoCopyBack() throws Exception {
        created(auth.send("PUT", "/Patient/p-upd", adminToken, "application/fhir+json",
                "{\"resourceType\":\"Patient\",\"id\":\"p-upd\"}"));
        auth.register("updater", JWSAlgorithm.RS384, "system/Patient.u");
        String updater = auth.token("updater", "system/Patient.u");
        HttpResponse<String> updated = auth.send("PUT", "/Patient/p-upd", updater, "application/fhir+json",
                "{\"resourceType\":\"Patient\",\"id\":\"p-upd\",\"name\":[{\"family\":\"Updated\"}]}");
        assertEquals(200, updated.statusCode(), updated.body());
        assertTrue(updated.headers().firstValue("Content-Location").orElse("").contains("/Patient/p-upd/_history/2"),
                updated.headers().map().toString());
        assertEquals("OperationOutcome", context.newJsonParser().parseResource(updated.body()).fhirType());
        assertFalse(updated.body().contains("Updated\""), updated.body());
        assertTrue(auth.get("/Patient/p-upd", adminToken).body().contains("Updated"), "the update was stored");
    }

    /** The first answer to {@code request} that {@code done} accepts, within five seconds. */
    static HttpResponse<String> eventually(java.util.concurrent.Callable<HttpResponse<String>> request,
            java.util.function.Predicate<HttpResponse<String>> done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (true) {
            HttpResponse<String> response = request.call();
            if (done.test(response) || System.nanoTime() > deadline) {
                return response;
            }
            Thread.sleep(100);
        }
    }

    @Test
    void aTokenStopsWorkingWhenItsClientIsRemoved() throws Exception {
        auth.register("leaving", JWSAlgorithm.RS384, "system/*.read");
        String token = auth.token("leaving", "system/*.read");
        assertEquals(200, auth.get("/Patient/p1", token).statusCode());
        auth.unregister("leaving");
        HttpResponse<String> refused = eventually(() -> auth.get("/Patient/p1", token),
                response -> response.statusCode() != 200);
        assertUnauthorized(refused, true, "'leaving' is no longer registered");
        assertFalse(refused.body().contains("Lovelace"), refused.body());
        assertUnauthorized(auth.get("/$export", token), true, "no longer registered");
    }

    @Test
    void narrowedScopesApplyToTokensAlreadyIssued() throws Exception {
        auth.register("shrinking", JWSAlgorithm.RS384, "system/*.read");
        String token = auth.token("shrinking", "system/*.read");
        assertEquals(200, auth.get("/Encounter/e1", token).statusCode());
        auth.rescope("shrinking", "system/Patient.read");
        assertForbidden(eventually(() -> auth.get("/Encounter/e1", token), response -> response.statusCode() != 200),
                "system/Encounter.read");
        assertEquals(200, auth.get("/Patient/p1", token).statusCode(), "what it still holds still works");
    }

    @Test
    void tokensSurviveARestart(@TempDir Path otherDir) throws Exception {
        String token;
        try (AuthFixture first = AuthFixture.start(otherDir)) {
            token = first.token("reader", "system/*.read");
            assertEquals(404, first.get("/Patient/none", token).statusCode());
        }
        try (AuthFixture second = AuthFixture.startAgain(otherDir)) {
            assertEquals(404, second.get("/Patient/none", token).statusCode(), "the same key signs after a restart");
        }
    }

    @Test
    void configuredTokenLifetime(@TempDir Path otherDir) throws Exception {
        try (AuthFixture shortLived = AuthFixture.start(otherDir, Duration.ofSeconds(42))) {
            HttpResponse<String> response = shortLived.post(AuthFixture.form(shortLived.assertion("reader"),
                    "system/*.read"));
            assertEquals(42L, ((Number) AuthFixture.json(response).get("expires_in")).longValue());
        }
    }
}
