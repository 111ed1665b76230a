package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.demo.DemoData;
import dev.bulkfhir.storage.Database;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.bulkfhir.server.export.BulkClient.JSON;
import static dev.bulkfhir.server.export.BulkClient.outcome;
import static dev.bulkfhir.server.export.BulkClient.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code allowPartialManifests=true} (Bulk Data IG STU3) over HTTP, on a plain HAPI server with the
 * plugin embedded, its source slowed down so that files complete one after another: 202s that carry
 * the files already complete, pages of at most the configured size linked by {@code next}, a page
 * never changing once returned (but for its link), and the whole equal to the export without it.
 */
class ExportPartialManifestTest {

    static final int PATIENTS = 10;
    static final int PAGE_SIZE = 3;

    @TempDir
    static Path dataDir;
    static EmbeddedExportServer server;
    static BulkClient client;

    @BeforeAll
    static void start() throws Exception {
        // Ranges of 40 resources, one worker: files complete one by one, a page fills over several polls.
        server = new EmbeddedExportServer(dataDir, Database.h2Url(dataDir), null, ExportSettings.defaults()
                .withWorkers(1).withRangeResources(40).withLimits(4, 8).withManifestPageSize(PAGE_SIZE), 500);
        DemoData.populate(server.store, PATIENTS, 5);
        client = new BulkClient(server.base);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @AfterEach
    void release() {
        server.source.delay(0);
    }

    @Test
    void pagesOfCompleteFilesWhileRunningNeverChangeOnceReturned() throws Exception {
        server.source.delay(2000); // 2 ms a resource: the export takes seconds
        String status = client.start("$export?_type=Patient,Observation,Condition&allowPartialManifests=true");
        Map<String, JsonNode> firstSeen = new LinkedHashMap<>();
        int partial = 0;
        String url = status;
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (true) {
            assertTrue(System.nanoTime() < deadline, "export did not finish");
            HttpResponse<byte[]> response = client.poll(url, "Accept", "application/json");
            int code = response.statusCode();
            assertTrue(code == 200 || code == 202, text(response));
            if (response.body().length == 0) {
                assertEquals(202, code);
                assertFalse(firstSeen.containsKey(url), "a page once returned is returned again: " + url);
                Thread.sleep(50);
                continue;
            }
            assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(""));
            JsonNode page = JSON.readTree(response.body());
            if (code == 202) {
                if (partial == 0) {
                    // Listed while the job runs: downloadable now.
                    JsonNode file = page.get("output").size() > 0 ? page.get("output").get(0) : page.get("error").get(0);
                    HttpResponse<byte[]> download = client.get(file.get("url").asText());
                    assertEquals(200, download.statusCode(), text(download));
                    assertEquals(file.get("count").asLong(), new String(download.body()).lines().count());
                }
                partial++;
                assertTrue(response.headers().firstValue("X-Progress").isPresent());
                assertTrue(response.headers().firstValue("Retry-After").isPresent());
            }
            assertTrue(page.get("output").size() + page.get("error").size() <= PAGE_SIZE, page.toString());
            assertTrue(page.get("output").size() + page.get("error").size() > 0, "a page holds files");
            JsonNode before = firstSeen.putIfAbsent(url, page);
            if (before != null) {
                assertEquals(withoutLink(before), withoutLink(page), "page changed after it was returned: " + url);
                if (before.has("link")) assertEquals(before.get("link"), page.get("link"));
            }
            JsonNode next = page.path("link").path(0);
            if (next.isMissingNode()) {
                if (code == 200) break;
                Thread.sleep(50);
                continue;
            }
            assertEquals("next", next.get("relation").asText());
            url = next.get("url").asText();
        }
        assertTrue(partial > 0, "no 202 carried a manifest");
        assertTrue(firstSeen.size() > 1, "one page only");

        // Every page again, after completion: 200 and the same files.
        List<JsonNode> output = new ArrayList<>();
        for (Map.Entry<String, JsonNode> seen : firstSeen.entrySet()) {
            HttpResponse<byte[]> again = client.get(seen.getKey());
            assertEquals(200, again.statusCode(), text(again));
            assertEquals(withoutLink(seen.getValue()), withoutLink(JSON.readTree(again.body())));
            seen.getValue().get("output").forEach(output::add);
        }
        ObjectNode whole = JSON.createObjectNode();
        whole.putArray("output").addAll(output);
        whole.putArray("error");
        JsonNode plain = client.await(client.start("$export?_type=Patient,Observation,Condition"));
        ExportTest.assertSameSets(ExportTest.asIdSets(client.download(plain)), ExportTest.asIdSets(client.download(whole)));
        assertFalse(plain.has("link"), "without allowPartialManifests: one manifest, as before");
    }

    @Test
    void organizedOutputInPagesAndBadPagesRefused() throws Exception {
        String status = client.start("Patient/$export?organizeOutputBy=Patient&allowPartialManifests=true");
        JsonNode first = client.await(status);
        assertEquals("Patient", first.get("outputOrganizedBy").asText());
        java.util.Set<String> resources = new java.util.TreeSet<>();
        JsonNode page = first;
        int pages = 1;
        while (true) {
            for (JsonNode file : page.get("output")) {
                for (String line : new String(client.get(file.get("url").asText()).body(),
                        java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                    JsonNode resource = JSON.readTree(line);
                    if (!resource.get("resourceType").asText().equals("Parameters")) {
                        resources.add(resource.get("resourceType").asText() + "/" + resource.get("id").asText());
                    }
                }
            }
            if (!page.has("link")) break;
            HttpResponse<byte[]> response = client.get(page.get("link").get(0).get("url").asText());
            assertEquals(200, response.statusCode(), text(response));
            page = JSON.readTree(response.body());
            assertEquals("Patient", page.get("outputOrganizedBy").asText(), "every page has the same fields");
            pages++;
        }
        // A resource in the compartments of two patients is in both blocks: compare the sets.
        java.util.Set<String> expected = new java.util.TreeSet<>();
        client.download(client.await(client.start("Patient/$export"))).forEach((type, list) -> list.forEach(
                resource -> expected.add(type + "/" + resource.getIdElement().getIdPart())));
        assertEquals(expected, resources);

        HttpResponse<byte[]> zero = client.get(status + "&_page=0");
        assertEquals(400, zero.statusCode(), text(zero));
        assertTrue(outcome(zero).contains("_page"));
        assertEquals(404, client.get(status + "&_page=" + (pages + 1)).statusCode());
        HttpResponse<byte[]> notPaged = client.get(client.start("Patient/$export?allowPartialManifests=false")
                + "&_page=2");
        assertEquals(404, notPaged.statusCode(), text(notPaged));
    }

    private static JsonNode withoutLink(JsonNode page) {
        ObjectNode copy = page.deepCopy();
        copy.remove("link");
        return copy;
    }
}
