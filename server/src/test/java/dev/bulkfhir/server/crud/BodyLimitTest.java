package dev.bulkfhir.server.crud;

import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Request bodies past --max-request-body get 413 with an OperationOutcome; Binary uploads have their own bounds. */
class BodyLimitTest {

    static final int LIMIT = 64 * 1024;

    @TempDir
    static Path dataDir;

    static StandaloneServer server;
    static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void start() throws Exception {
        server = new StandaloneServer(ServerSettings.builder(dataDir).maxRequestBody(LIMIT).build()).start();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    /** A Patient of exactly {@code size} bytes. */
    static byte[] patient(int size) {
        String head = "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"";
        String tail = "\"}]}";
        return (head + "x".repeat(size - head.length() - tail.length()) + tail).getBytes(StandardCharsets.UTF_8);
    }

    static HttpResponse<String> post(String path, String contentType, HttpRequest.BodyPublisher body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", contentType).POST(body).build(), HttpResponse.BodyHandlers.ofString());
    }

    static void assertTooLarge(HttpResponse<String> response) {
        assertEquals(413, response.statusCode(), response.body());
        assertTrue(response.body().contains("\"resourceType\":\"OperationOutcome\""), response.body());
        assertTrue(response.body().contains("--max-request-body"), response.body());
    }

    @Test
    void aBodyJustOverTheLimitIs413AndOneAtTheLimitIsTaken() throws Exception {
        assertTooLarge(post("/Patient", "application/fhir+json", HttpRequest.BodyPublishers.ofByteArray(patient(LIMIT + 1))));
        assertEquals(201, post("/Patient", "application/fhir+json",
                HttpRequest.BodyPublishers.ofByteArray(patient(LIMIT))).statusCode());
    }

    @Test
    void aBodyWithoutADeclaredLengthIsCutAtTheLimit() throws Exception {
        byte[] body = patient(LIMIT + 1);
        assertTooLarge(post("/Patient", "application/fhir+json",
                HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))));
        byte[] transaction = ("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"resource\":"
                + new String(patient(LIMIT), StandardCharsets.UTF_8) + ",\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}")
                .getBytes(StandardCharsets.UTF_8);
        assertTooLarge(post("", "application/fhir+json",
                HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(transaction))));
        // The connection pool still serves.
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/Patient?_count=1")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    @Test
    void aGzippedBodyIsBoundByWhatItUnzipsTo() throws Exception {
        for (int size : new int[] {LIMIT + 1, LIMIT}) {
            ByteArrayOutputStream zipped = new ByteArrayOutputStream();
            try (GZIPOutputStream gzip = new GZIPOutputStream(zipped)) {
                gzip.write(patient(size));
            }
            assertTrue(zipped.size() < LIMIT / 10, "a body that is small on the wire");
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/Patient"))
                    .header("Content-Type", "application/fhir+json").header("Content-Encoding", "gzip")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(zipped.toByteArray())).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (size > LIMIT) {
                assertTooLarge(response);
            } else {
                assertEquals(201, response.statusCode(), response.body());
            }
        }
    }

    @Test
    void binaryUploadsAreBoundByTheirOwnCapNotThisLimit() throws Exception {
        byte[] pdf = new byte[4 * LIMIT];
        HttpResponse<String> raw = post("/Binary", "application/pdf", HttpRequest.BodyPublishers.ofByteArray(pdf));
        assertEquals(201, raw.statusCode(), raw.body());
        String wrapped = "{\"resourceType\":\"Binary\",\"contentType\":\"application/pdf\",\"data\":\""
                + java.util.Base64.getEncoder().encodeToString(pdf) + "\"}";
        HttpResponse<String> fhir = post("/Binary", "application/fhir+json", HttpRequest.BodyPublishers.ofString(wrapped));
        assertEquals(201, fhir.statusCode(), fhir.body());
    }
}
