package dev.bulkfhir.server.auth;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Export with auth on: a job and its files belong to the client that started it. */
class AuthExportTest {

    @TempDir
    static Path dataDir;
    static AuthFixture auth;

    @BeforeAll
    static void start() throws Exception {
        auth = AuthFixture.start(dataDir);
        String admin = auth.token("admin", "system/*.*");
        AuthInterceptorTest.created(auth.send("PUT", "/Patient/p1", admin, "application/fhir+json",
                "{\"resourceType\":\"Patient\",\"id\":\"p1\"}"));
        AuthInterceptorTest.created(auth.send("PUT", "/Observation/o1", admin, "application/fhir+json",
                "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
                        + "\"subject\":{\"reference\":\"Patient/p1\"}}"));
        AuthInterceptorTest.created(auth.send("PUT", "/Encounter/e1", admin, "application/fhir+json",
                "{\"resourceType\":\"Encounter\",\"id\":\"e1\",\"status\":\"finished\",\"class\":{\"code\":\"AMB\"},"
                        + "\"subject\":{\"reference\":\"Patient/p1\"}}"));
    }

    @AfterAll
    static void stop() throws Exception {
        auth.close();
    }

    static HttpResponse<String> call(String method, String url, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url))
                .method(method, HttpRequest.BodyPublishers.noBody())
                .header("Accept", "application/fhir+json").header("Prefer", "respond-async");
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return AuthFixture.http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A file download, as bulk clients do it: no Accept, the NDJSON itself. */
    static HttpResponse<String> download(String url, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).GET();
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return AuthFixture.http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Kicks off; returns the status URL. */
    static String kickoff(String query, String token) throws Exception {
        HttpResponse<String> kickoff = call("GET", auth.base() + "/$export" + query, token);
        assertEquals(202, kickoff.statusCode(), kickoff.body());
        return kickoff.headers().firstValue("Content-Location").orElseThrow();
    }

    static Map<String, Object> manifest(String statusUrl, String token) throws Exception {
        for (int i = 0; i < 300; i++) {
            HttpResponse<String> status = call("GET", statusUrl, token);
            if (status.statusCode() == 200) {
                return AuthFixture.json(status);
            }
            assertEquals(202, status.statusCode(), status.body());
            Thread.sleep(100);
        }
        throw new AssertionError("export did not finish");
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> output(Map<String, Object> manifest) {
        return (List<Map<String, Object>>) manifest.get("output");
    }

    @Test
    void anotherClientsJobAndFilesAreNotFound() throws Exception {
        String reader = auth.token("reader", "system/*.read");
        String other = auth.token("narrow", "system/Patient.read system/Observation.rs");
        String statusUrl = kickoff("?_type=Patient,Observation", reader);
        Map<String, Object> manifest = manifest(statusUrl, reader);
        assertEquals(Boolean.TRUE, manifest.get("requiresAccessToken"));
        List<Map<String, Object>> files = output(manifest);
        assertFalse(files.isEmpty());

        assertEquals(404, call("GET", statusUrl, other).statusCode(), "another client's status");
        assertEquals(401, call("GET", statusUrl, null).statusCode(), "status without a token");
        for (Map<String, Object> file : files) {
            String url = (String) file.get("url");
            HttpResponse<String> own = download(url, reader);
            assertEquals(200, own.statusCode(), own.body());
            assertTrue(own.body().contains("\"resourceType\":\"" + file.get("type") + "\""), own.body());
            for (String form : List.of(url, url + "/$export-download", url + "/$binary-access-read")) {
                HttpResponse<String> foreign = download(form, other);
                assertEquals(404, foreign.statusCode(), form + ": " + foreign.body());
                assertFalse(foreign.body().contains("\"resourceType\":\"Patient\",\"id\""), foreign.body());
                assertEquals(401, download(form, null).statusCode(), form + " without a token");
            }
        }
        assertEquals(404, call("DELETE", statusUrl, other).statusCode(), "another client's cancel");
        assertEquals(200, call("GET", statusUrl, reader).statusCode(), "the owner's job survived that cancel");
    }

    @Test
    void anExportFileIdThatDoesNotExistAndAnotherClientsFileGetTheSameAnswer() throws Exception {
        String reader = auth.token("reader", "system/*.read");
        Map<String, Object> manifest = manifest(kickoff("?_type=Patient", reader), reader);
        String realUrl = (String) output(manifest).get(0).get("url");
        String realId = realUrl.substring(realUrl.lastIndexOf('/') + 1);
        String randomId = "bulk-" + java.util.UUID.randomUUID().toString().replace("-", "");
        // Without Binary read scope, or with it: either way ids cannot be probed by the answer.
        for (String token : List.of(auth.token("narrow", "system/Patient.read"), auth.token("admin", "system/*.*"))) {
            for (String suffix : List.of("", "/_history/1", "/$export-download", "/$binary-access-read")) {
                HttpResponse<String> real = download(auth.base() + "/Binary/" + realId + suffix, token);
                HttpResponse<String> random = download(auth.base() + "/Binary/" + randomId + suffix, token);
                assertEquals(404, real.statusCode(), suffix + ": " + real.body());
                assertEquals(404, random.statusCode(), suffix + ": " + random.body());
                assertEquals(AuthInterceptorTest.diagnostics(real), AuthInterceptorTest.diagnostics(random), suffix);
                HttpResponse<String> wrapped = call("GET", auth.base() + "/Binary/" + randomId + suffix, token);
                assertEquals(404, wrapped.statusCode(), suffix + " wrapped: " + wrapped.body());
                assertEquals(AuthInterceptorTest.diagnostics(real), AuthInterceptorTest.diagnostics(wrapped));
            }
        }
    }

    @Test
    void exportIsBoundedByTheReadScopes() throws Exception {
        String narrow = auth.token("narrow", "system/Patient.read system/Observation.rs");
        assertEquals(403, call("GET", auth.base() + "/$export?_type=Encounter", narrow).statusCode());

        // Without _type: only the types the client may read. Its own files need no Binary scope.
        Map<String, Object> manifest = manifest(kickoff("", narrow), narrow);
        Set<String> types = new TreeSet<>();
        List<String> urls = new ArrayList<>();
        for (Map<String, Object> file : output(manifest)) {
            types.add((String) file.get("type"));
            urls.add((String) file.get("url"));
        }
        assertEquals(Set.of("Observation", "Patient"), types);
        for (String url : urls) {
            assertEquals(200, download(url, narrow).statusCode(), url);
            assertEquals(200, call("GET", url, narrow).statusCode(), url + " wrapped (Accept: FHIR JSON)");
        }
    }
}
