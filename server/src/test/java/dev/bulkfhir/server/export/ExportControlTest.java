package dev.bulkfhir.server.export;

import dev.bulkfhir.storage.Database;
import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.demo.DemoData;
import dev.bulkfhir.storage.resource.PatientCompartment;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.bulkfhir.server.export.BulkClient.ids;
import static dev.bulkfhir.server.export.BulkClient.outcome;
import static dev.bulkfhir.server.export.BulkClient.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What needs the workers held back or slowed down to be tested without races: the snapshot rule
 * (writes after the kickoff), cancel of a running export, the 429 limits, ownership of jobs and
 * files, and expiry. On a plain HAPI server with the plugin embedded (see {@link EmbeddedExportServer}).
 */
class ExportControlTest {

    static final int PATIENTS = 20;

    @TempDir
    static Path dataDir;
    static EmbeddedExportServer server;
    static BulkClient client;

    @BeforeAll
    static void start() throws Exception {
        // Patient lists of more than 3 are matched in memory: the Group (7 members) takes that path.
        server = new EmbeddedExportServer(dataDir, Database.h2Url(dataDir), null,
                ExportSettings.defaults().withWorkers(2).withLimits(2, 3), 3);
        DemoData.populate(server.store, PATIENTS, 3);
        client = new BulkClient(server.base);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @AfterEach
    void release() {
        server.source.open();
        server.source.delay(0);
        server.source.fail(null);
    }

    @Test
    void aFailedExportAnswersWithAnOperationOutcomeAndLeavesNoFiles() throws Exception {
        server.source.fail("Observation");
        String status = client.start("$export?_type=Patient,Observation");
        HttpResponse<byte[]> response;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while ((response = client.poll(status)).statusCode() == 202 && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(500, response.statusCode(), text(response));
        assertTrue(outcome(response).contains("Exporting Observation failed"), text(response));
        Path folder = dataDir.resolve("export").resolve(BulkClient.jobId(status));
        long gone = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (Files.exists(folder) && System.nanoTime() < gone) Thread.sleep(20);
        assertFalse(Files.exists(folder));
    }

    @Test
    void writesAfterTheKickoffAreNotExported() throws Exception {
        server.source.shut();
        String status = client.start("$export?_type=Patient,Observation");
        // The job is fixed at its transaction time; now the data changes under it.
        String updatedId = DemoData.patientId(0);
        Patient updated = (Patient) BulkClient.CONTEXT.newJsonParser().parseResource(
                server.store.read("Patient", updatedId).orElseThrow().jsonText());
        String familyBefore = updated.getNameFirstRep().getFamily();
        updated.getNameFirstRep().setFamily("Changed-After-Kickoff");
        server.store.update(updated);
        Patient created = new Patient();
        created.setId("created-after-kickoff");
        server.store.update(created);
        String deletedId = firstObservationId();
        server.store.delete("Observation", deletedId);
        server.source.open();

        Map<String, List<IBaseResource>> byType = client.download(client.await(status));
        List<String> patients = ids(byType, "Patient");
        assertEquals(PATIENTS, patients.size());
        assertFalse(patients.contains("created-after-kickoff"));
        Patient exported = (Patient) byType.get("Patient").stream()
                .filter(p -> p.getIdElement().getIdPart().equals(updatedId)).findFirst().orElseThrow();
        assertEquals(familyBefore, exported.getNameFirstRep().getFamily(), "the version current at kickoff");
        assertEquals("1", exported.getMeta().getVersionId());
        assertTrue(ids(byType, "Observation").contains(deletedId), "deleted after kickoff: still exported");

        // A later export sees the new state.
        Map<String, List<IBaseResource>> later = client.download(client.await(client.start("$export?_type=Patient,Observation")));
        assertTrue(ids(later, "Patient").contains("created-after-kickoff"));
        assertFalse(ids(later, "Observation").contains(deletedId));
    }

    static String firstObservationId() {
        return server.store.search(new dev.bulkfhir.storage.resource.ResourceQuery("Observation", java.util.Set.of(),
                null, null, null, null, 1, null)).resources().get(0).id();
    }

    @Test
    void groupAndPatientExportsAreExactWithPatientListsMatchedInMemory() throws Exception {
        assertExactCompartmentExports(client, PATIENTS, 3);
    }

    /** Group export, and Patient export of two patients (POST), against the demo generator's output. */
    static void assertExactCompartmentExports(BulkClient client, int patients, long seed) throws Exception {
        Map<String, Map<String, IBaseResource>> generated = new java.util.TreeMap<>();
        new DemoData(BulkClient.CONTEXT, seed).generate(patients, resource -> generated
                .computeIfAbsent(BulkClient.CONTEXT.getResourceType(resource), t -> new java.util.TreeMap<>())
                .put(resource.getIdElement().getIdPart(), resource));
        Group group = (Group) generated.get("Group").get(DemoData.GROUP_ID);
        java.util.Set<String> members = new java.util.TreeSet<>();
        group.getMember().forEach(m -> members.add(m.getEntity().getReferenceElement().getIdPart()));
        ExportTest.assertSameSets(expectedFor(generated, members), ExportTest.asIdSets(client.download(client.await(
                client.start("Group/" + DemoData.GROUP_ID + "/$export")))));

        java.util.Set<String> two = java.util.Set.of(DemoData.patientId(1), DemoData.patientId(2));
        HttpResponse<byte[]> response = client.kickoffPost("Patient/$export", """
                {"resourceType": "Parameters", "parameter": [
                  {"name": "patient", "valueReference": {"reference": "Patient/%s"}},
                  {"name": "patient", "valueReference": {"reference": "Patient/%s"}}]}"""
                .formatted(DemoData.patientId(1), DemoData.patientId(2)));
        assertEquals(202, response.statusCode(), text(response));
        ExportTest.assertSameSets(expectedFor(generated, two),
                ExportTest.asIdSets(client.download(client.await(BulkClient.statusUrl(response)))));
    }

    static Map<String, java.util.Set<String>> expectedFor(Map<String, Map<String, IBaseResource>> generated,
            java.util.Set<String> patients) {
        PatientCompartment compartment = new PatientCompartment(BulkClient.CONTEXT);
        Map<String, java.util.Set<String>> expected = new java.util.TreeMap<>();
        generated.forEach((type, resources) -> resources.forEach((id, resource) -> {
            if (compartment.patientIds(resource).stream().anyMatch(patients::contains)) {
                expected.computeIfAbsent(type, t -> new java.util.TreeSet<>()).add(id);
            }
        }));
        return expected;
    }

    @Test
    void cancelStopsARunningExportWithinASecondOrTwoAndDeletesItsFiles() throws Exception {
        server.source.delay(2000); // 2 ms a resource: the export runs for seconds
        ch.qos.logback.classic.Logger exportLog = (ch.qos.logback.classic.Logger)
                org.slf4j.LoggerFactory.getLogger("dev.bulkfhir.providers.export");
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
                new ch.qos.logback.core.read.ListAppender<>();
        logged.start();
        exportLog.addAppender(logged);
        String status = client.start("$export");
        Path folder = dataDir.resolve("export").resolve(BulkClient.jobId(status));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            HttpResponse<byte[]> poll = client.poll(status);
            assertEquals(202, poll.statusCode(), "finished before it could be cancelled: " + text(poll));
            String progress = poll.headers().firstValue("X-Progress").orElse("");
            if (progress.startsWith("exporting") && !progress.contains(" 0 resources") && Files.isDirectory(folder)) break;
            assertTrue(System.nanoTime() < deadline, "never started: " + progress);
            Thread.sleep(20);
        }
        HttpResponse<byte[]> cancel = client.send("DELETE", status, null);
        assertEquals(202, cancel.statusCode(), text(cancel));
        assertTrue(outcome(cancel).contains("cancelled"));
        assertEquals(404, client.get(status).statusCode());
        long stopBy = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (Files.exists(folder) && System.nanoTime() < stopBy) Thread.sleep(20);
        assertFalse(Files.exists(folder), "files still there 2 s after the cancel");
        Thread.sleep(300);
        assertFalse(Files.exists(folder), "the export went on writing after the cancel");
        assertEquals(404, client.send("DELETE", status, null).statusCode());
        exportLog.detachAppender(logged);
        List<String> lines = logged.list.stream().map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
                .filter(line -> line.contains(BulkClient.jobId(status))).toList();
        assertTrue(lines.stream().anyMatch(line -> line.contains("cancelled")), lines.toString());
        assertTrue(lines.stream().noneMatch(line -> line.contains("completed")), lines.toString());
    }

    @Test
    void aStatusUrlPolledInALoopIs429WhilePollingAtRetryAfterIsNot() throws Exception {
        server.source.shut();
        String status = client.start("$export?_type=Patient", "X-Client", "poller");
        HttpResponse<byte[]> first = client.get(status, "X-Client", "poller");
        assertEquals(202, first.statusCode(), text(first));
        long retryAfter = Long.parseLong(first.headers().firstValue("Retry-After").orElseThrow());
        HttpResponse<byte[]> throttled = null;
        for (int i = 0; i < 100 && throttled == null; i++) {
            HttpResponse<byte[]> poll = client.get(status, "X-Client", "poller");
            if (poll.statusCode() == 429) throttled = poll;
            else assertEquals(202, poll.statusCode(), text(poll));
        }
        assertTrue(throttled != null, "100 polls in a row and never a 429");
        assertTrue(outcome(throttled).contains("Retry-After"), text(throttled));
        long wait = Long.parseLong(throttled.headers().firstValue("Retry-After").orElseThrow());
        assertTrue(wait >= 1 && wait <= retryAfter, "Retry-After " + wait);
        // A client that then keeps to the Retry-After is answered as usual.
        for (int i = 0; i < 2; i++) {
            Thread.sleep(wait * 1000);
            HttpResponse<byte[]> polite = client.get(status, "X-Client", "poller");
            assertEquals(202, polite.statusCode(), text(polite));
            wait = Long.parseLong(polite.headers().firstValue("Retry-After").orElseThrow());
        }
        assertEquals(202, client.send("DELETE", status, null, "X-Client", "poller").statusCode());
    }

    @Test
    void kickoffsOverTheLimitsAre429WithRetryAfter() throws Exception {
        server.source.shut();
        String a1 = client.start("$export?_type=Patient", "X-Client", "a");
        String a2 = client.start("$export?_type=Patient", "X-Client", "a");
        HttpResponse<byte[]> a3 = client.kickoff("$export?_type=Patient", "X-Client", "a");
        assertEquals(429, a3.statusCode(), text(a3));
        // The jobs in the way have just begun: a place is expected soon, not in a fixed 30 s.
        long retryAfter = Long.parseLong(a3.headers().firstValue("Retry-After").orElseThrow());
        assertTrue(retryAfter >= 1 && retryAfter <= 3, "Retry-After " + retryAfter);
        assertTrue(outcome(a3).contains("already has 2 exports"));

        String b1 = client.start("$export?_type=Patient", "X-Client", "b");
        HttpResponse<byte[]> c1 = client.kickoff("$export?_type=Patient", "X-Client", "c");
        assertEquals(429, c1.statusCode(), text(c1));
        assertTrue(c1.headers().firstValue("Retry-After").isPresent());
        assertTrue(outcome(c1).contains("as many exports as it allows"));

        // Cancelling one frees a place.
        assertEquals(202, client.send("DELETE", a1, null, "X-Client", "a").statusCode());
        String c2 = client.start("$export?_type=Patient", "X-Client", "c");
        server.source.open();
        for (String[] job : new String[][] {{a2, "a"}, {b1, "b"}, {c2, "c"}}) {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (client.poll(job[0], "X-Client", job[1]).statusCode() == 202 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
        }
    }

    @Test
    void anotherClientsJobAndFilesAreNotFound() throws Exception {
        String status = client.start("$export?_type=Patient", "X-Client", "owner");
        JsonNode manifest = awaitAs(status, "owner");
        String file = manifest.get("output").get(0).get("url").asText();
        assertEquals(200, client.get(file, "X-Client", "owner").statusCode());
        for (String url : List.of(status, file, file + "/$export-download", file + "/$binary-access-read",
                file + "/_history/1")) {
            HttpResponse<byte[]> response = client.get(url, "X-Client", "intruder");
            assertEquals(404, response.statusCode(), url + " -> " + text(response));
            outcome(response);
        }
        assertEquals(404, client.send("DELETE", status, null, "X-Client", "intruder").statusCode());
        assertEquals(200, client.get(status, "X-Client", "owner").statusCode(), "the intruder's DELETE did nothing");
    }

    JsonNode awaitAs(String status, String owner) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<byte[]> response = client.get(status, "X-Client", owner);
            if (response.statusCode() == 200) return BulkClient.JSON.readTree(response.body());
            assertEquals(202, response.statusCode(), text(response));
            Thread.sleep(50);
        }
        throw new AssertionError("not done");
    }

    @Test
    void expiredExportsAndTheirFilesAreGone(@TempDir Path otherDir) throws Exception {
        try (EmbeddedExportServer expiring = new EmbeddedExportServer(otherDir,
                ExportSettings.defaults().withRetention(Duration.ofSeconds(2)))) {
            Observation observation = new Observation();
            observation.setStatus(Observation.ObservationStatus.FINAL);
            observation.getCode().setText("x");
            expiring.store.create(observation);
            BulkClient other = new BulkClient(expiring.base);
            String status = other.start("$export");
            JsonNode manifest = other.await(status);
            String file = manifest.get("output").get(0).get("url").asText();
            assertEquals(200, other.get(file).statusCode());
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (other.get(status).statusCode() == 200 && System.nanoTime() < deadline) Thread.sleep(100);
            HttpResponse<byte[]> gone = other.get(status);
            assertEquals(410, gone.statusCode(), text(gone));
            HttpResponse<byte[]> fileGone = other.get(file);
            assertEquals(410, fileGone.statusCode(), text(fileGone));
            outcome(fileGone);
            assertEquals(410, other.get(file + "/$export-download").statusCode());
            try (Stream<Path> left = Files.list(otherDir.resolve("export"))) {
                assertEquals(List.of("node-id"), left.map(p -> p.getFileName().toString()).toList());
            }
        }
    }
}
