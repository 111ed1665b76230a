package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.StorageSettings;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two nodes on one PostgreSQL and one shared {@code --storage} directory (as an NFS mount would be):
 * what node A wrote, node B serves. Each node keeps its own state (the node id) in its data directory.
 */
class SharedDirectoryTest {

    private static final int PATIENTS = 8;

    @Test
    void filesWrittenByOneNodeAreServedByAnother(@TempDir Path temp) throws Exception {
        Path shared = temp.resolve("shared");
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            String url = postgres.getJdbcUrl("postgres", "postgres");
            String statusOnA;
            String binaryId;
            byte[] content = new byte[300_000]; // over the inline threshold: a file in the store
            new Random(3).nextBytes(content);
            try (StandaloneServer a = node(temp.resolve("a"), url, shared, true)) {
                BulkClient client = new BulkClient(a.baseUrl());
                statusOnA = client.start("$export");
                client.await(statusOnA); // the job runs and finishes on A, the only node yet
                HttpResponse<byte[]> created = client.send("POST", "Binary", content, "Content-Type", "image/png");
                assertEquals(201, created.statusCode(), BulkClient.text(created));
                binaryId = created.headers().firstValue("Location").orElseThrow()
                        .replaceAll(".*/Binary/([^/]+)/_history/.*", "$1");
            }
            try (Stream<Path> files = Files.walk(shared)) {
                assertTrue(files.anyMatch(file -> file.toString().endsWith(".ndjson")), "export files in the shared folder");
            }
            assertTrue(Files.exists(temp.resolve("a").resolve("export").resolve("node-id")), "node id on the node's own disk");
            assertFalse(Files.exists(shared.resolve("export").resolve("node-id")), "no node state in the shared folder");
            assertFalse(Files.exists(temp.resolve("a").resolve("binaries")), "Binary content not on A's own disk");

            try (StandaloneServer b = node(temp.resolve("b"), url, shared, false)) {
                BulkClient client = new BulkClient(b.baseUrl());
                String statusOnB = b.baseUrl() + statusOnA.substring(statusOnA.indexOf("/$export-poll-status"));
                JsonNode manifest = client.await(statusOnB);
                Map<String, List<IBaseResource>> all = client.download(manifest); // each file: 200, every line parses
                assertEquals(PATIENTS, all.get("Patient").size());

                HttpResponse<byte[]> read = client.get("Binary/" + binaryId);
                assertEquals(200, read.statusCode());
                assertEquals("image/png", read.headers().firstValue("Content-Type").orElse(null));
                assertArrayEquals(content, read.body());
            }
        }
    }

    private static StandaloneServer node(Path dataDir, String jdbcUrl, Path shared, boolean demo) throws Exception {
        return new StandaloneServer(ServerSettings.builder(dataDir).jdbc(jdbcUrl, "postgres", null)
                .demo(new ServerSettings.Demo(demo, PATIENTS, 1L)).storage(StorageSettings.directory(shared)).build())
                .start();
    }
}
