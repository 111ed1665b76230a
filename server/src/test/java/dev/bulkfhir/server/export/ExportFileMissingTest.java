package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static dev.bulkfhir.server.export.BulkClient.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An export file lost from disk after the export completed: every download route says so with 410
 * Gone and an OperationOutcome that blames the server's storage (before any byte of content), and the
 * status URL stops promising the file.
 */
class ExportFileMissingTest {

    @TempDir
    static Path dataDir;
    static StandaloneServer server;
    static BulkClient client;

    @BeforeAll
    static void start() throws Exception {
        server = new StandaloneServer(ServerSettings.builder(dataDir).demo(5).build()).start();
        client = new BulkClient(server.baseUrl());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    static void assertMissing(HttpResponse<byte[]> response, String what) {
        assertEquals(410, response.statusCode(), what + ": " + text(response));
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/fhir+json"),
                what + ": " + response.headers().firstValue("Content-Type") + " " + text(response));
        String body = text(response);
        assertTrue(body.contains("\"resourceType\":\"OperationOutcome\""), body);
        assertTrue(body.contains("missing from this server's storage"), body);
    }

    @Test
    void aFileDeletedFromDiskIsGoneOnEveryRouteAndThePollSaysSo() throws Exception {
        String status = client.start("$export?_type=Patient");
        JsonNode manifest = client.await(status);
        String url = manifest.get("output").get(0).get("url").asText();
        String fileId = url.substring(url.lastIndexOf('/') + 1);
        assertEquals(200, client.get(url).statusCode());

        Path file;
        try (Stream<Path> files = Files.walk(dataDir)) {
            file = files.filter(path -> path.getFileName().toString().equals(fileId + ".ndjson")).findFirst().orElseThrow();
        }
        Files.delete(file);

        for (String route : List.of(url, url + "/$export-download", url + "/$binary-access-read", url + "?_format=json")) {
            assertMissing(client.get(route, "Accept", "application/fhir+ndjson"), route);
        }
        assertMissing(client.get(url, "Accept", "application/fhir+json"), "wrapped read");
        HttpResponse<byte[]> poll = client.get(status, "Accept", "application/json");
        assertMissing(poll, "status");
        assertTrue(text(poll).contains(fileId), text(poll));
    }
}
