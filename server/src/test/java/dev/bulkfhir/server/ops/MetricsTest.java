package dev.bulkfhir.server.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bulkfhir.server.auth.AuthFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code /metrics} over HTTP: strict Prometheus text whose counters follow what clients do. */
class MetricsTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void countersFollowRequestsTokensAndExports(@TempDir Path dir) throws Exception {
        try (AuthFixture fixture = AuthFixture.start(dir, OpsSettings.defaults())) {
            String root = fixture.base().replaceAll("/fhir$", "");
            Map<String, Double> before = metrics(root + "/metrics");
            assertTrue(before.containsKey("bulkfhir_tokens_total{outcome=\"issued\"}"), before.keySet().toString());

            String token = fixture.token("admin", "system/*.*");
            assertEquals(400, fixture.post(AuthFixture.form("not-a-jwt", "system/*.read")).statusCode());
            String binaryId = createBinary(fixture, token, "hello metrics");
            String patientId = "p-" + System.nanoTime();
            assertEquals(201, send(fixture.base() + "/Patient/" + patientId, "PUT", token, "application/fhir+json",
                    "{\"resourceType\":\"Patient\",\"id\":\"" + patientId + "\"}").statusCode());
            for (int i = 0; i < 3; i++) {
                HttpResponse<String> read = send(fixture.base() + "/Binary/" + binaryId, "GET", token, null, null);
                assertEquals(200, read.statusCode());
                assertEquals("hello metrics", read.body());
            }
            String manifestFile = exportAndDownload(fixture, token);

            Map<String, Double> after = metrics(root + "/metrics");
            // three reads and the export file download, whose manifest URL is a Binary read
            assertEquals(4.0, after.get("http_server_requests_seconds_count{method=\"GET\",route=\"/Binary/{id}\",status=\"200\"}")
                    - before.getOrDefault("http_server_requests_seconds_count{method=\"GET\",route=\"/Binary/{id}\",status=\"200\"}", 0.0));
            assertTrue(after.get("http_server_requests_seconds_bucket{method=\"GET\",route=\"/Binary/{id}\",status=\"200\",le=\"+Inf\"}") >= 3);
            assertTrue(after.get("http_server_response_bytes_total{route=\"/Binary/{id}\"}") >= 3 * "hello metrics".length());
            assertEquals(1.0, after.get("bulkfhir_tokens_total{outcome=\"issued\"}"));
            assertEquals(1.0, after.get("bulkfhir_tokens_total{outcome=\"refused\"}"));
            assertEquals(1.0, after.get("bulkfhir_export_resources_total"));
            assertTrue(after.get("bulkfhir_export_bytes_total") > 0);
            assertTrue(after.get("bulkfhir_export_download_bytes_total") > 0);
            // The jobs-by-state gauge is read from the job table at most once a second: give it that.
            Map<String, Double> later = after;
            for (int i = 0; i < 30 && !Double.valueOf(1.0).equals(later.get("bulkfhir_export_jobs{state=\"completed\"}")); i++) {
                Thread.sleep(100);
                later = metrics(root + "/metrics");
            }
            assertEquals(1.0, later.get("bulkfhir_export_jobs{state=\"completed\"}"));
            assertTrue(after.keySet().stream().anyMatch(key -> key.startsWith("hikaricp_connections{")), "pool metrics");
            assertTrue(after.keySet().stream().anyMatch(key -> key.startsWith("jvm_memory_used_bytes{")), "JVM metrics");
            // Bounded routes: no id of a client's appears in a label.
            String text = get(root + "/metrics").body();
            assertFalse(text.contains(binaryId));
            assertFalse(text.contains(patientId));
            assertFalse(text.contains(manifestFile));
        }
    }

    @Test
    void requestIdsAreEchoedOrMade(@TempDir Path dir) throws Exception {
        try (AuthFixture fixture = AuthFixture.start(dir, OpsSettings.defaults())) {
            HttpResponse<String> given = http.send(HttpRequest.newBuilder(URI.create(fixture.base() + "/metadata"))
                    .header("X-Request-ID", "trace-42").build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, given.statusCode());
            assertEquals(java.util.List.of("trace-42"), given.headers().allValues("X-Request-ID"));
            HttpResponse<String> made = get(fixture.base() + "/Patient");
            assertEquals(401, made.statusCode());
            assertEquals(1, made.headers().allValues("X-Request-ID").size(), made.headers().toString());
            assertTrue(made.headers().firstValue("X-Request-ID").orElseThrow().matches("[A-Za-z0-9]{16}"));
            HttpResponse<String> forged = http.send(HttpRequest.newBuilder(URI.create(fixture.base() + "/metadata"))
                    .header("X-Request-ID", "a b\"c").build(), HttpResponse.BodyHandlers.ofString());
            assertTrue(forged.headers().firstValue("X-Request-ID").orElseThrow().matches("[A-Za-z0-9]{16}"));
        }
    }

    @Test
    void aSeparateOpsPortKeepsThemOffTheMainPort(@TempDir Path dir) throws Exception {
        try (AuthFixture fixture = AuthFixture.start(dir, new OpsSettings(0, true))) {
            String main = fixture.base().replaceAll("/fhir$", "");
            String ops = "http://127.0.0.1:" + fixture.server.opsPort();
            assertEquals(404, get(main + "/metrics").statusCode());
            assertEquals(404, get(main + "/health/ready").statusCode());
            HttpResponse<String> metrics = get(ops + "/metrics");
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain"));
            PrometheusText.parse(metrics.body());
            assertEquals(200, get(ops + "/health/live").statusCode());
            assertEquals(404, get(ops + "/fhir/metadata").statusCode());
        }
    }

    static Map<String, Double> metrics(String url) throws Exception {
        HttpResponse<String> response = get(url);
        assertEquals(200, response.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", response.headers().firstValue("Content-Type").orElseThrow());
        return PrometheusText.parse(response.body());
    }

    static HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> send(String url, String method, String token, String contentType, String body)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).method(method,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) request.header("Authorization", "Bearer " + token);
        if (contentType != null) request.header("Content-Type", contentType);
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String createBinary(AuthFixture fixture, String token, String text) throws Exception {
        HttpResponse<String> created = send(fixture.base() + "/Binary", "POST", token, "text/plain", text);
        assertEquals(201, created.statusCode(), created.body());
        return created.headers().firstValue("Location").orElseThrow().replaceAll(".*/Binary/([^/]+)/_history/.*", "$1");
    }

    /** Kicks off a system export of Patient, waits for it, downloads its one file; returns the file's id. */
    private static String exportAndDownload(AuthFixture fixture, String token) throws Exception {
        HttpResponse<String> kickoff = http.send(HttpRequest.newBuilder(URI.create(fixture.base() + "/$export?_type=Patient"))
                .header("Authorization", "Bearer " + token).header("Accept", "application/fhir+json")
                .header("Prefer", "respond-async").build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(202, kickoff.statusCode(), kickoff.body());
        String status = kickoff.headers().firstValue("Content-Location").orElseThrow();
        long deadline = System.currentTimeMillis() + 30_000;
        while (true) {
            HttpResponse<String> poll = send(status, "GET", token, null, null);
            if (poll.statusCode() == 200) {
                JsonNode manifest = JSON.readTree(poll.body());
                String url = manifest.get("output").get(0).get("url").asText();
                HttpResponse<String> file = send(url, "GET", token, null, null);
                assertEquals(200, file.statusCode());
                assertTrue(file.body().contains("\"Patient\""));
                return url.substring(url.lastIndexOf('/') + 1);
            }
            assertEquals(202, poll.statusCode(), poll.body());
            assertTrue(System.currentTimeMillis() < deadline, "export did not complete");
            assertNotNull(poll);
            Thread.sleep(200);
        }
    }
}
