package dev.bulkfhir.server.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Kubernetes probes over HTTP: 200 while the node can serve, 503 with the reason once its database is gone. */
class HealthTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void readyUntilTheDatabaseGoes(@TempDir Path dir) throws Exception {
        EmbeddedPostgres postgres = EmbeddedPostgres.builder().start();
        try (StandaloneServer server = new StandaloneServer(ServerSettings.builder(dir)
                .jdbc(postgres.getJdbcUrl("postgres", "postgres"), "postgres", null).build()).start()) {
            String root = "http://127.0.0.1:" + server.port();
            HttpResponse<String> live = MetricsTest.get(root + "/health/live");
            assertEquals(200, live.statusCode());
            assertEquals("application/json", live.headers().firstValue("Content-Type").orElseThrow()
                    .replaceAll(";.*", ""));
            assertEquals("UP", JSON.readTree(live.body()).get("status").asText());

            JsonNode ready = awaitReady(root);
            assertEquals("UP", ready.at("/checks/database/status").asText());
            assertEquals("UP", ready.at("/checks/migrations/status").asText());
            assertEquals("UP", ready.at("/checks/exportWorkers/status").asText());

            postgres.close();
            HttpResponse<String> gone = MetricsTest.get(root + "/health/ready");
            assertEquals(503, gone.statusCode(), gone.body());
            JsonNode down = JSON.readTree(gone.body());
            assertEquals("DOWN", down.get("status").asText());
            assertEquals("DOWN", down.at("/checks/database/status").asText());
            assertTrue(down.at("/checks/database/detail").asText().length() > 0);
            assertEquals(200, MetricsTest.get(root + "/health/live").statusCode(), "alive, though not ready");
        } finally {
            postgres.close();
        }
    }

    /** Ready as soon as the workers' claim loop has run once (at start, within half a second). */
    private static JsonNode awaitReady(String root) throws Exception {
        long deadline = System.currentTimeMillis() + 10_000;
        while (true) {
            HttpResponse<String> ready = MetricsTest.get(root + "/health/ready");
            if (ready.statusCode() == 200 || System.currentTimeMillis() > deadline) {
                assertEquals(200, ready.statusCode(), ready.body());
                return JSON.readTree(ready.body());
            }
            Thread.sleep(100);
        }
    }
}
