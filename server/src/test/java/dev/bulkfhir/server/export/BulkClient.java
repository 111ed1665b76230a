package dev.bulkfhir.server.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.parser.StrictErrorHandler;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.hl7.fhir.instance.model.api.IBaseResource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** A Bulk Data client over java.net.http, with the checks every export test makes of what it gets. */
final class BulkClient {

    static final FhirContext CONTEXT = FhirContext.forR4Cached();
    static final ObjectMapper JSON = new ObjectMapper();

    final String base;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    BulkClient(String base) {
        this.base = base;
    }

    /** {@code path} relative to the base (e.g. "$export?_type=Patient"), or an absolute URL. */
    HttpResponse<byte[]> send(String method, String path, byte[] body, String... headers) throws Exception {
        String url = path.startsWith("http") ? path : base + "/" + path;
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<byte[]> get(String path, String... headers) throws Exception {
        return send("GET", path, null, headers);
    }

    /** A kickoff with the IG's headers plus any given; returns the response (202 or an error). */
    HttpResponse<byte[]> kickoff(String path, String... headers) throws Exception {
        return send("GET", path, null, withKickoffHeaders(headers));
    }

    HttpResponse<byte[]> kickoffPost(String path, String parametersJson, String... headers) throws Exception {
        String[] all = withKickoffHeaders(headers);
        String[] withType = new String[all.length + 2];
        System.arraycopy(all, 0, withType, 0, all.length);
        withType[all.length] = "Content-Type";
        withType[all.length + 1] = "application/fhir+json";
        return send("POST", path, parametersJson.getBytes(StandardCharsets.UTF_8), withType);
    }

    private static String[] withKickoffHeaders(String[] headers) {
        List<String> all = new ArrayList<>(List.of("Accept", "application/fhir+json", "Prefer", "respond-async"));
        all.addAll(List.of(headers));
        return all.toArray(String[]::new);
    }

    /** Kicks off, expecting 202; returns the status URL. */
    String start(String path, String... headers) throws Exception {
        HttpResponse<byte[]> response = kickoff(path, headers);
        assertEquals(202, response.statusCode(), text(response));
        return statusUrl(response);
    }

    static String statusUrl(HttpResponse<byte[]> response) {
        String location = response.headers().firstValue("Content-Location").orElse(null);
        assertNotNull(location, "202 without Content-Location");
        assertTrue(location.startsWith("http://"), "status URL must be absolute: " + location);
        return location;
    }

    static String jobId(String statusUrl) {
        return statusUrl.substring(statusUrl.indexOf("_jobId=") + "_jobId=".length());
    }

    /**
     * One status poll, as a client that polls often but minds a 429 does it: told it polls too often,
     * it waits the Retry-After it is given and polls again.
     */
    HttpResponse<byte[]> poll(String statusUrl, String... headers) throws Exception {
        while (true) {
            HttpResponse<byte[]> response = get(statusUrl, headers);
            if (response.statusCode() != 429) return response;
            outcome(response);
            long seconds = Long.parseLong(response.headers().firstValue("Retry-After").orElseThrow());
            Thread.sleep(seconds * 1000);
        }
    }

    /** Polls until the export is done; returns the 200 manifest (after checking its headers). */
    JsonNode await(String statusUrl) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<byte[]> response = poll(statusUrl, "Accept", "application/json");
            if (response.statusCode() == 200) {
                assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(""));
                assertTrue(response.headers().firstValue("Expires").isPresent(), "manifest without Expires");
                return JSON.readTree(response.body());
            }
            assertEquals(202, response.statusCode(), text(response));
            assertTrue(response.headers().firstValue("X-Progress").isPresent(), "202 without X-Progress");
            assertTrue(response.headers().firstValue("Retry-After").isPresent(), "202 without Retry-After");
            Thread.sleep(50);
        }
        return fail("export did not finish in time: " + statusUrl);
    }

    /**
     * Downloads every output and error file, checks that each line parses as a resource of its file's
     * type and that the counts match, and returns the resources by type (as "Type/id", in file order).
     */
    Map<String, List<IBaseResource>> download(JsonNode manifest) throws Exception {
        Map<String, List<IBaseResource>> byType = new LinkedHashMap<>();
        for (String section : List.of("output", "error")) {
            for (JsonNode file : manifest.get(section)) {
                String type = file.get("type").asText();
                String url = file.get("url").asText();
                assertTrue(url.startsWith(base + "/Binary/"), "file URL under [base]/Binary: " + url);
                HttpResponse<byte[]> response = get(url, "Accept", "application/fhir+ndjson");
                assertEquals(200, response.statusCode(), text(response));
                assertEquals("application/fhir+ndjson", response.headers().firstValue("Content-Type").orElse(""));
                List<IBaseResource> resources = parseLines(response.body(), type);
                assertEquals(file.get("count").asLong(), resources.size(), "manifest count of " + url);
                byType.computeIfAbsent(type, t -> new ArrayList<>()).addAll(resources);
            }
        }
        return byType;
    }

    /** Each line one resource of {@code type}, strictly parsed; lines end with \n. */
    static List<IBaseResource> parseLines(byte[] body, String type) {
        String text = new String(body, StandardCharsets.UTF_8);
        assertTrue(text.isEmpty() || text.endsWith("\n"), "NDJSON must end with a newline");
        IParser parser = CONTEXT.newJsonParser().setParserErrorHandler(new StrictErrorHandler());
        List<IBaseResource> resources = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) continue;
            IBaseResource resource = parser.parseResource(line);
            assertEquals(type, CONTEXT.getResourceType(resource), line);
            resources.add(resource);
        }
        return resources;
    }

    static List<String> ids(Map<String, List<IBaseResource>> byType, String type) {
        return byType.getOrDefault(type, List.of()).stream()
                .map(resource -> resource.getIdElement().getIdPart()).toList();
    }

    static byte[] gunzip(byte[] body) throws IOException {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(body))) {
            return in.readAllBytes();
        }
    }

    static String text(HttpResponse<byte[]> response) {
        return response.statusCode() + " " + new String(response.body(), StandardCharsets.UTF_8);
    }

    /** The OperationOutcome of an error answer, as JSON text; fails if there is none. */
    static String outcome(HttpResponse<byte[]> response) {
        String body = new String(response.body(), StandardCharsets.UTF_8);
        assertTrue(body.contains("\"resourceType\":\"OperationOutcome\""), "no OperationOutcome: " + body);
        return body;
    }
}
