package dev.bulkfhir.server.binary;

import ca.uhn.fhir.context.FhirContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.load.LoadSummary;
import dev.bulkfhir.server.load.Loader;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Export files own the Binary ids of their shape ({@code bulk-} and 32 hex digits): no write path may
 * plant a Binary there, or it would be served under an export file's id once its export is gone.
 */
class ReservedExportIdsTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path dataDir;

    static StandaloneServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new StandaloneServer(ServerSettings.defaults(dataDir)).start();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void aTransactionCannotPlantABinaryUnderADeletedExportsFileId() throws Exception {
        String fileId = exportThenDelete();

        HttpResponse<String> transaction = postBundle(bundle(Bundle.BundleType.TRANSACTION, fileId));
        assertEquals(400, transaction.statusCode(), transaction.body());
        assertTrue(transaction.body().contains("OperationOutcome") && transaction.body().contains("reserved"),
                transaction.body());

        HttpResponse<String> read = send("GET", "/Binary/" + fileId, null, null);
        assertEquals(404, read.statusCode(), read.body());
        assertTrue(!read.body().contains("planted"), read.body());
    }

    @Test
    void aBatchRefusesThatEntryAndRunsTheOthers() throws Exception {
        String fileId = "bulk-" + "0123456789abcdef".repeat(2);
        Bundle batch = bundle(Bundle.BundleType.BATCH, fileId);
        batch.addEntry().setResource(new Patient().setActive(true))
                .getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl("Patient");

        HttpResponse<String> response = postBundle(batch);
        assertEquals(200, response.statusCode(), response.body());
        Bundle answer = FHIR.newJsonParser().parseResource(Bundle.class, response.body());
        assertEquals("400", answer.getEntry().get(0).getResponse().getStatus());
        assertTrue(FHIR.newJsonParser().encodeResourceToString(answer.getEntry().get(0).getResponse().getOutcome())
                .contains("reserved"), response.body());
        assertEquals("201 Created", answer.getEntry().get(1).getResponse().getStatus());
        assertEquals(404, send("GET", "/Binary/" + fileId, null, null).statusCode());
    }

    @Test
    void theLoadCommandRejectsSuchABinary() throws Exception {
        String fileId = "bulk-" + "fedcba9876543210".repeat(2);
        Binary binary = planted(fileId);
        Path ndjson = Files.writeString(dataDir.resolve("planted.ndjson"),
                FHIR.newJsonParser().encodeResourceToString(binary) + "\n");

        LoadSummary summary = new Loader(server.store(), new PrintStream(OutputStream.nullOutputStream()), false)
                .load(List.of(ndjson));
        assertEquals(0, summary.loaded());
        assertEquals(1, summary.rejected());
        assertTrue(summary.rejections().get(0).reason().contains("reserved"), summary.rejections().toString());
        assertEquals(404, send("GET", "/Binary/" + fileId, null, null).statusCode());
    }

    @Test
    void aDirectPutIsStillRefused() throws Exception {
        String fileId = "bulk-" + "00112233445566778899aabbccddeeff";
        HttpResponse<String> put = send("PUT", "/Binary/" + fileId,
                FHIR.newJsonParser().encodeResourceToString(planted(fileId)), "application/fhir+json");
        assertTrue(put.statusCode() >= 400 && put.statusCode() < 500, put.statusCode() + " " + put.body());
        assertTrue(put.body().contains("OperationOutcome"), put.body());
        assertEquals(404, send("GET", "/Binary/" + fileId, null, null).statusCode());
    }

    /** Runs an export with one file, deletes it as its owner would, and returns the file's Binary id. */
    private static String exportThenDelete() throws Exception {
        assertEquals(201, send("POST", "/Patient", FHIR.newJsonParser().encodeResourceToString(
                new Patient().setActive(true)), "application/fhir+json").statusCode());
        HttpResponse<String> kickoff = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl()
                        + "/$export?_type=Patient")).header("Accept", "application/fhir+json")
                .header("Prefer", "respond-async").GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(202, kickoff.statusCode(), kickoff.body());
        String status = kickoff.headers().firstValue("Content-Location").orElseThrow();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> poll = HTTP.send(HttpRequest.newBuilder(URI.create(status)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            if (poll.statusCode() == 200) {
                JsonNode manifest = new ObjectMapper().readTree(poll.body());
                String url = manifest.get("output").get(0).get("url").asText();
                String fileId = url.substring(url.lastIndexOf('/') + 1);
                HttpResponse<String> delete = HTTP.send(HttpRequest.newBuilder(URI.create(status)).DELETE().build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(202, delete.statusCode(), delete.body());
                return fileId;
            }
            assertEquals(202, poll.statusCode(), poll.body());
            Thread.sleep(50);
        }
        return fail("export did not finish");
    }

    private static Binary planted(String id) {
        Binary binary = new Binary();
        binary.setId("Binary/" + id);
        binary.setContentType("application/fhir+ndjson");
        binary.setData("{\"resourceType\":\"Patient\",\"id\":\"planted\"}\n".getBytes(StandardCharsets.UTF_8));
        return binary;
    }

    private static Bundle bundle(Bundle.BundleType type, String binaryId) {
        Bundle bundle = new Bundle().setType(type);
        bundle.addEntry().setResource(planted(binaryId))
                .getRequest().setMethod(Bundle.HTTPVerb.PUT).setUrl("Binary/" + binaryId);
        return bundle;
    }

    private static HttpResponse<String> postBundle(Bundle bundle) throws Exception {
        return send("POST", "", FHIR.newJsonParser().encodeResourceToString(bundle), "application/fhir+json");
    }

    private static HttpResponse<String> send(String method, String path, String body, String contentType)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                .header("Accept", "application/fhir+json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) request.header("Content-Type", contentType);
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
