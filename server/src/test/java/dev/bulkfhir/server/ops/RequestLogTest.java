package dev.bulkfhir.server.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bulkfhir.server.ServerProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The request log of the real program: one line per request, JSON that parses, no stack traces for client errors. */
class RequestLogTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void jsonLinesWithTheRequestFields(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("server.log");
        List<String> command = new ArrayList<>(ServerProcess.testLauncher());
        command.addAll(List.of("--port", "0", "--data-dir", dir.resolve("data").toString(), "--auth", "off",
                "--log-format", "json"));
        ServerProcess server = ServerProcess.start(command, log);
        try {
            assertEquals(200, send(server.baseUrl() + "/metadata", "GET", null, "trace-json-1").statusCode());
            assertEquals(404, send(server.baseUrl() + "/Patient/nope", "GET", null, "trace-json-2").statusCode());
            assertEquals(400, send(server.baseUrl() + "/Patient", "POST", "{not json", "trace-json-3").statusCode());
            assertEquals(400, send(server.baseUrl() + "/Patient?_count=x", "GET", null, "trace-json-4").statusCode());

            List<JsonNode> requests = awaitRequestLines(log, 4);
            Map<String, Object> first = fields(requests.stream()
                    .filter(line -> "trace-json-2".equals(fields(line).get("requestId"))).findFirst().orElseThrow());
            assertEquals("GET", first.get("method"));
            assertEquals("/Patient/{id}", first.get("route"));
            // logback's JSON encoder writes key-value pairs as strings
            assertEquals("404", first.get("status"));
            assertEquals("anonymous", first.get("client"));
            assertTrue(Double.parseDouble((String) first.get("durationMs")) > 0);
            String text = Files.readString(log);
            assertFalse(text.contains("\tat "), "a stack trace for a client error:\n" + text);
            assertFalse(text.contains("\\tat "), "a stack trace for a client error:\n" + text);
        } finally {
            server.kill();
        }
    }

    @Test
    void plainLinesAndTheSwitch(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("server.log");
        List<String> command = new ArrayList<>(ServerProcess.testLauncher());
        command.addAll(List.of("--port", "0", "--data-dir", dir.resolve("data").toString(), "--auth", "off",
                "--request-log", "off"));
        ServerProcess server = ServerProcess.start(command, log);
        try {
            assertEquals(200, send(server.baseUrl() + "/metadata", "GET", null, "trace-plain").statusCode());
            assertEquals(404, send(server.baseUrl() + "/Patient/nope", "GET", null, "trace-plain").statusCode());
            Thread.sleep(1000);
            assertFalse(Files.readString(log).contains("trace-plain"), "--request-log off still logs requests");
        } finally {
            server.kill();
        }
    }

    /** The kvpList of a request line as one map, whatever shape the encoder gives it (object, or array of pairs). */
    static Map<String, Object> fields(JsonNode line) {
        Map<String, Object> fields = new java.util.LinkedHashMap<>();
        JsonNode list = line.get("kvpList");
        for (JsonNode entry : list.isArray() ? list : List.of(list)) {
            entry.fields().forEachRemaining(field -> fields.put(field.getKey(), JSON.convertValue(field.getValue(), Object.class)));
        }
        return fields;
    }

    private static List<JsonNode> awaitRequestLines(Path log, int count) throws Exception {
        long deadline = System.currentTimeMillis() + 10_000;
        while (true) {
            List<JsonNode> requests = new ArrayList<>();
            for (String line : Files.readAllLines(log)) {
                if (!line.startsWith("{")) continue; // the start banner is for people
                JsonNode json;
                try {
                    json = JSON.readTree(line);
                } catch (Exception e) {
                    fail("Not JSON: " + line);
                    return null;
                }
                assertTrue(json.hasNonNull("level") && json.hasNonNull("loggerName"), line);
                if ("dev.bulkfhir.request".equals(json.get("loggerName").asText())
                        && String.valueOf(fields(json).get("requestId")).startsWith("trace-json")) {
                    requests.add(json);
                }
            }
            if (requests.size() >= count) return requests;
            if (System.currentTimeMillis() > deadline) fail("request lines missing:\n" + Files.readString(log));
            Thread.sleep(200);
        }
    }

    private static HttpResponse<String> send(String url, String method, String body, String requestId) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).header("X-Request-ID", requestId)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) request.header("Content-Type", "application/fhir+json");
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
