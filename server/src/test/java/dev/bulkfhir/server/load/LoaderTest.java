package dev.bulkfhir.server.load;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.server.demo.DemoNdjson;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.StoredResource;
import org.hl7.fhir.r4.model.Encounter;
import org.hl7.fhir.r4.model.Observation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.sql.DataSource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.SQLTransientConnectionException;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The loader against a real H2 file database. */
class LoaderTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();

    private static final String PATIENT = "8c95253e-8ee8-9ae8-6d40-021d702dc78e";
    private static final String ENCOUNTER = "e2c1a2e4-8f2b-4a4e-b2f3-1f8a2c1d9e01";
    private static final String OBSERVATION = "0b1d5a7c-3f7e-4d8e-9a61-6f2b8c4d2e11";
    private static final String CONDITION = "9d2f1e3c-5b6a-4c7d-8e9f-0a1b2c3d4e5f";
    private static final String ORGANIZATION = "ef6ab57c-ed94-3dbe-9861-812d515918b3";

    @TempDir
    Path dir;

    private Database database;
    private ResourceStore store;

    @BeforeEach
    void openDatabase() {
        database = Database.open("jdbc:h2:file:" + dir.resolve("db") + "/db", null, null, 4);
        store = new ResourceStore(database.dataSource(), FHIR);
    }

    @AfterEach
    void closeDatabase() {
        database.close();
    }

    private LoadSummary load(Path... paths) throws IOException {
        return new Loader(store, null, false).load(List.of(paths));
    }

    private String json(String type, String id) {
        StoredResource stored = store.read(type, id).orElseThrow(() -> new AssertionError(type + "/" + id + " not stored"));
        return stored.jsonText();
    }

    // ---------------------------------------------------------------- Bundles

    @Test
    void syntheaTransactionBundleIsStoredUnderItsUuidsWithReferencesResolved() throws IOException {
        Path input = Files.createDirectories(dir.resolve("synthea"));
        // The patient file sorts before the hospital file, but refers to its organization by a
        // conditional reference: the batch Bundle must be loaded first.
        Files.writeString(input.resolve("Aaron697_Smith_" + PATIENT + ".json"), """
                {"resourceType": "Bundle", "type": "transaction", "entry": [
                  {"fullUrl": "urn:uuid:%1$s",
                   "resource": {"resourceType": "Encounter", "id": "%1$s", "status": "finished",
                     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                     "subject": {"reference": "urn:uuid:%2$s", "display": "Mr. Aaron697 Smith"},
                     "serviceProvider": {"reference": "Organization?identifier=https://github.com/synthetichealth/synthea|org-1"}},
                   "request": {"method": "POST", "url": "Encounter"}},
                  {"fullUrl": "urn:uuid:%2$s",
                   "resource": {"resourceType": "Patient", "id": "%2$s", "gender": "male", "birthDate": "1970-02-03",
                     "name": [{"family": "Smith", "given": ["Aaron697"]}]},
                   "request": {"method": "POST", "url": "Patient"}},
                  {"fullUrl": "urn:uuid:%3$s",
                   "resource": {"resourceType": "Observation", "id": "%3$s", "status": "final",
                     "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
                     "subject": {"reference": "urn:uuid:%2$s"}, "encounter": {"reference": "urn:uuid:%1$s"},
                     "valueQuantity": {"value": 1.50, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}},
                   "request": {"method": "POST", "url": "Observation"}},
                  {"request": {"method": "DELETE", "url": "Patient/gone"}},
                  {"fullUrl": "urn:uuid:%4$s",
                   "resource": {"resourceType": "Condition", "id": "%4$s",
                     "subject": {"reference": "urn:uuid:%2$s"}, "encounter": {"reference": "urn:uuid:%1$s"},
                     "code": {"text": "Viral sinusitis"}},
                   "request": {"method": "POST", "url": "Condition"}},
                  {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000009",
                   "resource": {"resourceType": "Observation", "status": "not-a-status", "code": {"text": "x"}},
                   "request": {"method": "POST", "url": "Observation"}}
                ]}
                """.formatted(ENCOUNTER, PATIENT, OBSERVATION, CONDITION));
        Files.writeString(input.resolve("hospitalInformation1700000000000.json"), """
                {"resourceType": "Bundle", "type": "batch", "entry": [
                  {"fullUrl": "urn:uuid:%1$s",
                   "resource": {"resourceType": "Organization", "id": "%1$s", "name": "General Hospital",
                     "identifier": [{"system": "https://github.com/synthetichealth/synthea", "value": "org-1"}]},
                   "request": {"method": "POST", "url": "Organization",
                     "ifNoneExist": "identifier=https://github.com/synthetichealth/synthea|org-1"}}
                ]}
                """.formatted(ORGANIZATION));

        LoadSummary summary = load(input);

        assertEquals(5, summary.loaded(), summary.rejections().toString());
        assertEquals(2, summary.rejected());
        Rejection delete = summary.rejections().get(0);
        assertEquals(3, delete.entry());
        assertTrue(delete.reason().contains("DELETE"), delete.reason());
        Rejection badStatus = summary.rejections().get(1);
        assertEquals(5, badStatus.entry());
        assertTrue(badStatus.file().getFileName().toString().startsWith("Aaron697"));
        assertTrue(badStatus.reason().contains("not-a-status"), badStatus.reason());

        Observation observation = FHIR.newJsonParser().parseResource(Observation.class, json("Observation", OBSERVATION));
        assertEquals("Patient/" + PATIENT, observation.getSubject().getReference());
        assertEquals("Encounter/" + ENCOUNTER, observation.getEncounter().getReference());
        assertTrue(json("Observation", OBSERVATION).contains("\"value\":1.50"), "decimal precision kept");

        Encounter encounter = FHIR.newJsonParser().parseResource(Encounter.class, json("Encounter", ENCOUNTER));
        assertEquals("Patient/" + PATIENT, encounter.getSubject().getReference(), "forward reference");
        assertEquals("Mr. Aaron697 Smith", encounter.getSubject().getDisplay());
        assertEquals("Organization/" + ORGANIZATION, encounter.getServiceProvider().getReference(),
                "conditional reference to the organization of the batch Bundle");
        assertTrue(json("Condition", CONDITION).contains("\"reference\":\"Patient/" + PATIENT + "\""));
        assertTrue(json("Patient", PATIENT).contains("Aaron697"));
        assertFalse(json("Observation", OBSERVATION).contains("urn:uuid"));
    }

    @Test
    void malformedBundleIsRejectedWholeAndTheOtherFilesStillLoad() throws IOException {
        Path input = Files.createDirectories(dir.resolve("mixed"));
        Files.writeString(input.resolve("a-broken.json"), """
                {"resourceType": "Bundle", "type": "collection", "entry": [
                  {"fullUrl": "urn:uuid:%s", "resource": {"resourceType": "Patient", "id": "%1$s"}},
                  {"fullUrl": "urn:uuid:%s", "resource": {"resourceType": "Patient", "id":
                """.formatted(PATIENT, CONDITION));
        Files.writeString(input.resolve("b-good.ndjson"), "{\"resourceType\":\"Patient\",\"id\":\"good\"}\n");
        Files.writeString(input.resolve("c-notes.txt"), "not loaded: not a *.json or *.ndjson file");

        LoadSummary summary = load(input);

        assertEquals(1, summary.loaded());
        assertEquals(2, summary.files());
        assertEquals(1, summary.rejected());
        Rejection rejection = summary.rejections().get(0);
        assertEquals(input.resolve("a-broken.json"), rejection.file());
        assertEquals(-1, rejection.line());
        assertEquals(-1, rejection.entry());
        assertTrue(rejection.reason().startsWith("Malformed JSON"), rejection.reason());
        assertTrue(store.read("Patient", PATIENT).isEmpty(), "nothing of a malformed Bundle is stored");
        assertTrue(store.read("Patient", "good").isPresent());
    }

    @Test
    void oddEntriesAreRejectedByTheirIndexAndTheRestOfTheBundleLoads() throws IOException {
        Path file = dir.resolve("odd.json");
        Files.writeString(file, """
                {"resourceType": "Bundle", "entry": [
                  "not an object",
                  {"resource": {"resourceType": "Patient", "id": "one"}, "resource": {"resourceType": "Patient", "id": "two"}},
                  {"fullUrl": "urn:uuid:x"},
                  {"resource": {"resourceType": "Patient", "id": "kept", "active": true}, "search": {"mode": "match"}},
                  [1, 2]
                ], "type": "searchset"}
                """);

        LoadSummary summary = load(file);

        assertEquals(1, summary.loaded(), summary.rejections().toString());
        assertEquals(List.of(0L, 1L, 2L, 4L), summary.rejections().stream().map(Rejection::entry).toList());
        assertEquals(List.of("Entry is not a JSON object", "Entry has more than one resource", "Entry has no resource",
                "Entry is not a JSON object"), summary.rejections().stream().map(Rejection::reason).toList());
        assertTrue(json("Patient", "kept").contains("\"active\":true"));
        assertTrue(store.read("Patient", "one").isEmpty() && store.read("Patient", "two").isEmpty());
    }

    @Test
    void singleResourceJsonFileIsLoaded() throws IOException {
        Path file = dir.resolve("patient.json");
        Files.writeString(file, "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"solo\",\n  \"active\": true\n}\n");
        LoadSummary summary = load(file);
        assertEquals(1, summary.loaded());
        assertTrue(json("Patient", "solo").contains("\"active\":true"));
    }

    // ---------------------------------------------------------------- NDJSON

    @Test
    void anotherServersExportLoadsWithThisStoresVersions() throws IOException {
        Path file = dir.resolve("Patient.ndjson");
        Files.writeString(file, "{\"resourceType\":\"Patient\",\"id\":\"exported\",\"meta\":{\"versionId\":\"7\","
                + "\"lastUpdated\":\"2020-01-02T03:04:05.678+00:00\"},\"gender\":\"male\"}\n"
                + "{\"resourceType\":\"Patient\",\"id\":\"Patient/other/_history/3\"}\n");

        LoadSummary summary = load(file);

        assertEquals(2, summary.loaded(), summary.rejections().toString());
        assertEquals(1, store.read("Patient", "other").orElseThrow().version());
        StoredResource stored = store.read("Patient", "exported").orElseThrow();
        assertEquals(1, stored.version());
        String json = new String(stored.json(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(json.contains("\"versionId\":\"1\""), json);
        assertTrue(json.contains("\"gender\":\"male\""), json);
    }

    @Test
    void badNdjsonLinesAreRejectedWithTheirLineNumbersAndTheRestIsStored() throws IOException {
        Path file = dir.resolve("Mixed.ndjson");
        Files.writeString(file, String.join("\n",
                "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"gender\":\"female\"}",
                "{\"resourceType\":\"Patient\",\"id\":\"p-broken\",",
                "{\"resourceType\":\"Spaceship\",\"id\":\"s1\"}",
                "",
                "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
                        + "\"subject\":{\"reference\":\"Patient/p1\"}}",
                "{\"resourceType\":\"Patient\",\"id\":\"bad_id!\"}",
                "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"favouriteColour\":\"blue\"}",
                "{\"resourceType\":\"Patient\",\"id\":\"p3\"}") + "\r\n");

        LoadSummary summary = load(file);

        assertEquals(3, summary.loaded(), summary.rejections().toString());
        assertEquals(4, summary.rejected());
        Map<Long, String> reasons = summary.rejections().stream()
                .collect(Collectors.toMap(Rejection::line, Rejection::reason));
        assertEquals(List.of(2L, 3L, 6L, 7L), summary.rejections().stream().map(Rejection::line).toList());
        assertTrue(reasons.get(2L).contains("Failed to parse JSON"), reasons.get(2L));
        assertTrue(reasons.get(3L).contains("Spaceship"), reasons.get(3L));
        assertTrue(reasons.get(6L).contains("Invalid resource id"), reasons.get(6L));
        assertTrue(reasons.get(7L).contains("favouriteColour"), reasons.get(7L));
        assertTrue(summary.rejections().stream().allMatch(r -> r.file().equals(file) && r.entry() == -1));
        assertTrue(store.read("Patient", "p1").isPresent());
        assertTrue(store.read("Observation", "o1").isPresent());
        assertTrue(store.read("Patient", "p3").isPresent());
        assertTrue(store.read("Patient", "p2").isEmpty(), "no resource is stored with parts missing");
        assertEquals(Map.of("Patient", 2L, "Observation", 1L), summary.loadedByType());

        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        summary.print(new PrintStream(printed, true, StandardCharsets.UTF_8));
        String text = printed.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("Loaded 3 resources from 1 file"), text);
        assertTrue(text.contains("Rejected 4:"), text);
        assertTrue(text.contains(file + ":3: "), text);
    }

    @Test
    void numbersTooLongToStoreAreRejectedWithTheirLinesAndQuickly() throws IOException {
        Path file = dir.resolve("Numbers.ndjson");
        String observation = "{\"resourceType\":\"Observation\",\"id\":\"%s\",\"status\":\"final\","
                + "\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":%s}}";
        Files.writeString(file, String.join("\n", observation.formatted("fine", "1.5e3"),
                observation.formatted("huge", "1e1000"), observation.formatted("vast", "1e999999")));

        long started = System.nanoTime();
        LoadSummary summary = load(file);

        assertTrue(System.nanoTime() - started < 10_000_000_000L, "a million-digit number is refused, not expanded");
        assertEquals(1, summary.loaded(), summary.rejections().toString());
        assertEquals(List.of(2L, 3L), summary.rejections().stream().map(Rejection::line).toList());
        for (Rejection rejection : summary.rejections()) {
            assertTrue(rejection.reason().contains("Observation.valueQuantity.value"), rejection.reason());
        }
        assertTrue(json("Observation", "fine").contains("\"value\":1500"), json("Observation", "fine"));
        assertTrue(store.read("Observation", "huge").isEmpty());
    }

    @Test
    void aBatchTheDatabaseRefusesIsWrittenOneByOneSoOnlyTheBadResourceIsRejected() throws IOException {
        Path file = dir.resolve("Binary.ndjson");
        Files.writeString(file, String.join("\n",
                "{\"resourceType\":\"Binary\",\"id\":\"b1\",\"contentType\":\"text/plain\",\"data\":\"aGVsbG8=\"}",
                "{\"resourceType\":\"Binary\",\"id\":\"b2\",\"contentType\":\"not a media type\",\"data\":\"aGVsbG8=\"}",
                "{\"resourceType\":\"Binary\",\"id\":\"b3\",\"contentType\":\"text/plain\",\"data\":\"aGVsbG8=\"}"));

        LoadSummary summary = load(file);

        assertEquals(2, summary.loaded());
        assertEquals(1, summary.rejected());
        assertEquals(2, summary.rejections().get(0).line());
        assertTrue(summary.rejections().get(0).reason().contains("contentType"), summary.rejections().get(0).reason());
        assertTrue(store.read("Binary", "b1").isPresent());
        assertTrue(store.read("Binary", "b2").isEmpty());
        assertTrue(store.read("Binary", "b3").isPresent());
    }

    @Test
    void manyBatchesOfDemoDataGzippedAndPlainAllArrive() throws IOException {
        Path input = dir.resolve("demo");
        Map<String, Long> written = DemoNdjson.write(FHIR, 60, 7, input);
        long total = written.values().stream().mapToLong(Long::longValue).sum();
        // Compress one of the files.
        Path observations = input.resolve("Observation.ndjson");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(input.resolve("Observation.ndjson.gz")))) {
            Files.copy(observations, out);
        }
        Files.delete(observations);

        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        LoadSummary summary = new Loader(store, new PrintStream(progress, true, StandardCharsets.UTF_8), true)
                .batchSize(100)
                .threads(2, 2)
                .load(List.of(input));

        assertEquals(total, summary.loaded(), summary.rejections().toString());
        assertEquals(0, summary.rejected());
        assertEquals(written, summary.loadedByType());
        assertTrue(summary.resourcesPerSecond() > 0);
        assertTrue(store.read("Patient", "demo-pat-000060").isPresent());
        assertTrue(store.read("Observation", "demo-obs-000060-1-01").isPresent());
        // The patient compartment index, worked out by the parser threads for spliced resources.
        var inCompartment = store.search(new dev.bulkfhir.storage.resource.ResourceQuery("Observation", null, null,
                null, "demo-pat-000060", null, 1000, null)).resources();
        assertTrue(inCompartment.stream().anyMatch(r -> r.id().equals("demo-obs-000060-1-01")), inCompartment.toString());
        assertTrue(inCompartment.stream().allMatch(r -> r.jsonText().contains("\"Patient/demo-pat-000060\"")));
        var patients = store.search(new dev.bulkfhir.storage.resource.ResourceQuery("Patient", null, null, null,
                "demo-pat-000060", null, 10, null)).resources();
        assertEquals(List.of("demo-pat-000060"), patients.stream().map(r -> r.id()).toList());
    }

    @Test
    void storedJsonIsHapisEncodingWhetherTheSourceWasSplicedOrReEncoded() throws IOException {
        Path file = dir.resolve("mixed.ndjson");
        Files.writeString(file, String.join("\n",
                // spliced: compact, in HAPI's order, with an old meta to be replaced
                "{\"resourceType\":\"Patient\",\"id\":\"s1\",\"meta\":{\"lastUpdated\":\"2001-01-01T00:00:00Z\",\"tag\":[{\"code\":\"t\"}]},\"active\":true}",
                // spliced: whitespace and a non-ASCII name
                "{ \"resourceType\": \"Patient\", \"id\": \"s2\", \"name\": [ { \"family\": \"M\u00fcller\" } ] }",
                // re-encoded by HAPI: narrative, a primitive's extension, a number written as a string
                "{\"resourceType\":\"Patient\",\"id\":\"h1\",\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">x</div>\"}}",
                "{\"resourceType\":\"Patient\",\"id\":\"h2\",\"birthDate\":\"1970\",\"_birthDate\":{\"extension\":[{\"url\":\"http://e\",\"valueString\":\"v\"}]}}",
                "{\"resourceType\":\"Observation\",\"id\":\"h3\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":\"5.4\"}}")
                + "\n");
        LoadSummary summary = load(file);
        assertEquals(5, summary.loaded(), summary.rejections().toString());
        var parser = FHIR.newJsonParser();
        for (String key : List.of("Patient/s1", "Patient/s2", "Patient/h1", "Patient/h2", "Observation/h3")) {
            String[] parts = key.split("/");
            String stored = json(parts[0], parts[1]);
            assertEquals(parser.encodeResourceToString(parser.parseResource(stored)), stored, key);
            assertFalse(stored.contains("\n"), key);
            assertTrue(stored.startsWith("{\"resourceType\":\"" + parts[0] + "\",\"id\":\"" + parts[1]
                    + "\",\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\""), stored);
        }
        assertTrue(json("Patient", "s1").contains("\"tag\":[{\"code\":\"t\"}]"));
        assertTrue(json("Observation", "h3").contains("\"value\":5.4"));
    }

    @Test
    void theRejectionListIsCappedWhenPrinted() throws IOException {
        Path file = dir.resolve("bad.ndjson");
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            lines.append("{not json}\n");
        }
        Files.writeString(file, lines);
        LoadSummary summary = load(file);
        assertEquals(60, summary.rejected());
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        summary.print(new PrintStream(printed, true, StandardCharsets.UTF_8));
        String text = printed.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains(file + ":50: "), text);
        assertFalse(text.contains(file + ":51: "), text);
        assertTrue(text.contains("and 10 more"), text);
    }

    @Test
    void invalidUtf8IsRejectedNotStoredWithReplacementCharacters() throws IOException {
        Path file = dir.resolve("latin1.ndjson");
        byte[] bad = "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"M\u00fcller\"}]}\n"
                .getBytes(StandardCharsets.ISO_8859_1);
        byte[] good = "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"name\":[{\"family\":\"M\u00fcller\"}]}\n"
                .getBytes(StandardCharsets.UTF_8);
        Files.write(file, concat(bad, good));
        LoadSummary summary = load(file);
        assertEquals(1, summary.loaded());
        assertEquals(1, summary.rejections().get(0).line());
        assertEquals("Not valid UTF-8", summary.rejections().get(0).reason());
        assertTrue(json("Patient", "p2").contains("M\u00fcller"));
    }

    @Test
    void aDatabaseThatCannotBeReachedAbortsTheLoad() throws IOException {
        DataSource unreachable = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
                    throw new SQLTransientConnectionException("Connection is not available, request timed out");
                });
        Path file = dir.resolve("Patient.ndjson");
        Files.writeString(file, "{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n{\"resourceType\":\"Patient\",\"id\":\"p2\"}\n");
        LoadAbortedException aborted = assertThrows(LoadAbortedException.class,
                () -> new Loader(new ResourceStore(unreachable, FHIR), null, false).load(List.of(file)));
        assertEquals(0, aborted.summary().loaded());
        assertEquals(0, aborted.summary().rejected(), "resources are not blamed for the database");
        assertTrue(aborted.getMessage().contains("Connection is not available"), aborted.getMessage());
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] both = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        return both;
    }

    @Test
    void aMissingPathFailsBeforeAnythingIsLoaded() throws IOException {
        Path good = dir.resolve("ok.ndjson");
        Files.writeString(good, "{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n");
        assertThrows(NoSuchFileException.class, () -> load(good, dir.resolve("missing.ndjson")));
        assertTrue(store.read("Patient", "p1").isEmpty());
    }
}
