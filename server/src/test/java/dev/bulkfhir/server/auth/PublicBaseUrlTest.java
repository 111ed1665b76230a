package dev.bulkfhir.server.auth;

import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The base URL the server hands out and checks token audiences against comes from its configuration,
 * never from the request's {@code Host} header: a forged Host gets no token and is echoed nowhere.
 */
class PublicBaseUrlTest {

    static final String PUBLIC_BASE = "https://fhir.example.test/r4";

    @TempDir
    static Path dataDir;
    @TempDir
    static Path proxiedDir;
    /** Without --base-url: the base is http://127.0.0.1:[port]/fhir. */
    static AuthFixture direct;
    /** With --base-url PUBLIC_BASE, as behind a proxy. */
    static AuthFixture proxied;

    @BeforeAll
    static void start() throws Exception {
        direct = AuthFixture.start(dataDir);
        proxied = AuthFixture.startWithBaseUrl(proxiedDir, PUBLIC_BASE);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            direct.close();
        } finally {
            proxied.close();
        }
    }

    static String evilHost(AuthFixture auth) {
        return "evil.example:" + auth.server.port();
    }

    /** A token request with an assertion for {@code audience}, sent with {@code Host: host}. */
    static AuthFixture.RawResponse tokenRequest(AuthFixture auth, String host, String audience) throws Exception {
        JWTClaimsSet claims = auth.claims("reader").audience(audience).build();
        String assertion = AuthFixture.sign(auth.keys.get("reader"), auth.keys.get("reader").getKeyID(), claims);
        return auth.raw("POST", "/auth/token", host, Map.of("Content-Type", "application/x-www-form-urlencoded"),
                AuthFixture.formBody(AuthFixture.form(assertion, "system/*.read")));
    }

    static void assertInvalidClient(AuthFixture.RawResponse response) throws Exception {
        assertEquals(400, response.status(), response.body());
        Map<String, Object> error = JSONObjectUtils.parse(response.body());
        assertEquals("invalid_client", error.get("error"), response.body());
        assertTrue(((String) error.get("error_description")).contains("aud"), response.body());
    }

    @Test
    void aForgedHostGetsNoToken() throws Exception {
        String evil = evilHost(direct);
        assertInvalidClient(tokenRequest(direct, evil, "http://" + evil + "/fhir/auth/token"));
        // The real address still works, whatever Host the request carries.
        AuthFixture.RawResponse good = tokenRequest(direct, evil, direct.tokenUrl());
        assertEquals(200, good.status(), good.body());
    }

    @Test
    void behindAProxyOnlyTheConfiguredTokenUrlIsTheAudience() throws Exception {
        assertEquals(PUBLIC_BASE + "/auth/token", proxied.tokenUrl());
        String evil = evilHost(proxied);
        assertInvalidClient(tokenRequest(proxied, evil, "http://" + evil + "/fhir/auth/token"));
        // The address the request reached is not the public one either.
        assertInvalidClient(tokenRequest(proxied, "127.0.0.1:" + proxied.server.port(),
                proxied.base() + "/auth/token"));
        AuthFixture.RawResponse good = tokenRequest(proxied, evil, PUBLIC_BASE + "/auth/token");
        assertEquals(200, good.status(), good.body());
    }

    @Test
    void smartConfigurationNamesTheConfiguredBase() throws Exception {
        for (AuthFixture auth : List.of(direct, proxied)) {
            AuthFixture.RawResponse discovery = auth.raw("GET", "/.well-known/smart-configuration", evilHost(auth),
                    Map.of(), null);
            assertEquals(200, discovery.status(), discovery.body());
            assertEquals(auth.tokenUrl(), JSONObjectUtils.parse(discovery.body())
                    .get("token_endpoint"));
        }
    }

    @Test
    void createLocationKickoffStatusAndManifestCarryTheConfiguredBase() throws Exception {
        for (AuthFixture auth : List.of(direct, proxied)) {
            String configured = auth.server.baseUrl();
            String token = auth.token("admin", "system/*.*");
            Map<String, String> bearer = Map.of("Authorization", "Bearer " + token,
                    "Accept", "application/fhir+json", "Prefer", "respond-async");
            String evil = evilHost(auth);

            AuthFixture.RawResponse created = auth.raw("POST", "/Patient", evil, Map.of(
                    "Authorization", "Bearer " + token, "Content-Type", "application/fhir+json"),
                    "{\"resourceType\":\"Patient\"}");
            assertEquals(201, created.status(), created.body());
            assertTrue(created.header("Location").startsWith(configured + "/Patient/"), created.header("Location"));

            AuthFixture.RawResponse kickoff = auth.raw("GET", "/$export?_type=Patient", evil, bearer, null);
            assertEquals(202, kickoff.status(), kickoff.body());
            String statusUrl = kickoff.header("Content-Location");
            assertTrue(statusUrl.startsWith(configured + "/$export-poll-status?"), statusUrl);

            String statusPath = statusUrl.substring(configured.length());
            for (int i = 0; ; i++) {
                AuthFixture.RawResponse status = auth.raw("GET", statusPath, evil, bearer, null);
                if (status.status() == 200) {
                    Map<String, Object> manifest = JSONObjectUtils.parse(status.body());
                    assertEquals(configured + "/$export?_type=Patient", manifest.get("request"), status.body());
                    for (Map<String, Object> file : AuthExportTest.output(manifest)) {
                        assertTrue(((String) file.get("url")).startsWith(configured + "/Binary/"), status.body());
                    }
                    break;
                }
                assertEquals(202, status.status(), status.body());
                assertTrue(i < 300, "export did not finish");
                Thread.sleep(100);
            }
        }
    }

    @Test
    void withoutBaseUrlTheBaseIsTheBoundAddress() {
        assertEquals("http://127.0.0.1:" + direct.server.port() + "/fhir", direct.server.baseUrl());
        assertEquals(PUBLIC_BASE, proxied.server.baseUrl());
    }
}
