package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.demo.DemoData;
import dev.bulkfhir.storage.resource.PatientCompartment;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.MedicationRequest;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static dev.bulkfhir.server.export.BulkClient.CONTEXT;
import static dev.bulkfhir.server.export.BulkClient.ids;
import static dev.bulkfhir.server.export.BulkClient.outcome;
import static dev.bulkfhir.server.export.BulkClient.text;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bulk Data export on the standalone server, over HTTP: the three kickoff levels with GET and POST,
 * every parameter, every validation error, the manifest and the three download URL forms.
 */
class ExportTest {

    static final int PATIENTS = 30;
    static final long SEED = 7;
    /** Ranges of 250 resources, files of 100: Observation is split, and each range rolls over to more files. */
    static final int RANGE = 250;

    @TempDir
    static Path dataDir;
    static StandaloneServer server;
    static BulkClient client;
    /** What the demo generator wrote, by type: "id" to resource. */
    static final Map<String, Map<String, IBaseResource>> generated = new TreeMap<>();

    @BeforeAll
    static void start() throws Exception {
        ServerSettings settings = ServerSettings.builder(dataDir)
                .export(ExportSettings.defaults().withFileLimits(100, 512L * 1024 * 1024).withRangeResources(RANGE))
                .build();
        server = new StandaloneServer(settings).start();
        DemoData.populate(server.store(), PATIENTS, SEED);
        new DemoData(CONTEXT, SEED).generate(PATIENTS, resource -> generated
                .computeIfAbsent(CONTEXT.getResourceType(resource), t -> new TreeMap<>())
                .put(resource.getIdElement().getIdPart(), resource));
        client = new BulkClient(server.baseUrl());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    static Set<String> generatedIds(String type) {
        return new TreeSet<>(generated.getOrDefault(type, Map.of()).keySet());
    }

    /** Equal id sets per type; on a difference, names the first few missing and extra ids only. */
    static void assertSameSets(Map<String, Set<String>> expected, Map<String, Set<String>> actual) {
        StringBuilder differences = new StringBuilder();
        Set<String> types = new TreeSet<>(expected.keySet());
        types.addAll(actual.keySet());
        for (String type : types) {
            Set<String> missing = new TreeSet<>(expected.getOrDefault(type, Set.of()));
            missing.removeAll(actual.getOrDefault(type, Set.of()));
            Set<String> extra = new TreeSet<>(actual.getOrDefault(type, Set.of()));
            extra.removeAll(expected.getOrDefault(type, Set.of()));
            if (!missing.isEmpty() || !extra.isEmpty()) {
                differences.append(type).append(": missing ").append(missing.stream().limit(5).toList())
                        .append(" (").append(missing.size()).append("), extra ")
                        .append(extra.stream().limit(5).toList()).append(" (").append(extra.size()).append(")\n");
            }
        }
        assertTrue(differences.isEmpty(), differences.toString());
    }

    static Map<String, Set<String>> asIdSets(Map<String, List<IBaseResource>> byType) {
        Map<String, Set<String>> sets = new TreeMap<>();
        byType.forEach((type, resources) -> {
            if (type.equals("OperationOutcome")) return;
            List<String> ids = ids(byType, type);
            assertEquals(ids.size(), new HashSet<>(ids).size(), "duplicates in " + type);
            sets.put(type, new TreeSet<>(ids));
        });
        return sets;
    }

    @Test
    void systemExportHoldsEveryResourceBinaryIncludedWithAManifestAsTheIgDescribes() throws Exception {
        Instant before = Instant.now();
        String status = client.start("$export");
        JsonNode manifest = client.await(status);
        Instant transactionTime = Instant.parse(manifest.get("transactionTime").asText());
        assertFalse(transactionTime.isBefore(before.minusSeconds(1)));
        assertEquals(server.baseUrl() + "/$export", manifest.get("request").asText());
        assertFalse(manifest.get("requiresAccessToken").asBoolean());
        assertEquals(0, manifest.get("error").size());

        Map<String, Set<String>> exported = asIdSets(client.download(manifest));
        Map<String, Set<String>> expected = new TreeMap<>();
        // "All supported resources" (the IG, _type omitted): Binary too, as _type=Binary has it.
        generated.forEach((type, resources) -> expected.put(type, new TreeSet<>(resources.keySet())));
        assertTrue(expected.containsKey("Binary"));
        assertSameSets(expected, exported);
        // Observation is cut into ranges of 250, each written into files of at most 100 resources, each
        // file with its own count.
        long observationFiles = 0;
        for (JsonNode file : manifest.get("output")) {
            if (file.get("type").asText().equals("Observation")) observationFiles++;
            assertTrue(file.get("count").asLong() <= 100);
        }
        int observations = generatedIds("Observation").size();
        assertTrue(observations > 2 * RANGE, "too few Observations to split: " + observations);
        int rest = observations % RANGE;
        assertEquals(observations / RANGE * ((RANGE + 99) / 100) + (rest + 99) / 100, observationFiles);
    }

    @Test
    void everyFileIsServedByTheBinaryReadAndBothDownloadOperationsWithGzipAndRanges() throws Exception {
        JsonNode manifest = client.await(client.start("$export?_type=Patient"));
        String url = manifest.get("output").get(0).get("url").asText();
        byte[] plain = client.get(url).body();
        assertEquals(PATIENTS, BulkClient.parseLines(plain, "Patient").size());
        for (String form : List.of(url + "/$export-download", url + "/$binary-access-read")) {
            HttpResponse<byte[]> response = client.get(form);
            assertEquals(200, response.statusCode(), text(response));
            assertEquals("application/fhir+ndjson", response.headers().firstValue("Content-Type").orElse(""));
            assertArrayEquals(plain, response.body());
        }
        HttpResponse<byte[]> gzipped = client.get(url, "Accept-Encoding", "gzip");
        assertEquals("gzip", gzipped.headers().firstValue("Content-Encoding").orElse(""));
        assertTrue(gzipped.body().length < plain.length / 3, "gzip should shrink NDJSON a lot");
        assertArrayEquals(plain, BulkClient.gunzip(gzipped.body()));
        HttpResponse<byte[]> range = client.get(url + "/$export-download", "Range", "bytes=10-19");
        assertEquals(206, range.statusCode());
        assertArrayEquals(Arrays.copyOfRange(plain, 10, 20), range.body());
        // The wrapped read still works for FHIR clients that ask for a Binary.
        HttpResponse<byte[]> wrapped = client.get(url, "Accept", "application/fhir+json");
        Binary binary = CONTEXT.newJsonParser().parseResource(Binary.class, new String(wrapped.body(), StandardCharsets.UTF_8));
        assertEquals("application/fhir+ndjson", binary.getContentType());
        assertArrayEquals(plain, binary.getData());
        // Export files are read-only.
        HttpResponse<byte[]> overwrite = client.send("PUT", url, "x".getBytes(), "Content-Type", "text/plain");
        assertTrue(overwrite.statusCode() >= 400 && overwrite.statusCode() < 500, text(overwrite));
    }

    @Test
    void patientLevelExportHoldsThePatientCompartmentOnly() throws Exception {
        Map<String, Set<String>> exported = asIdSets(client.download(client.await(client.start("Patient/$export"))));
        PatientCompartment compartment = new PatientCompartment(CONTEXT);
        Map<String, Set<String>> expected = new TreeMap<>();
        generated.forEach((type, resources) -> resources.forEach((id, resource) -> {
            if (!compartment.patientIds(resource).isEmpty()) expected.computeIfAbsent(type, t -> new TreeSet<>()).add(id);
        }));
        assertSameSets(expected, exported);
        assertFalse(exported.containsKey("Organization"));
        assertFalse(exported.containsKey("Practitioner"));
    }

    @Test
    void groupExportHoldsExactlyItsMembersData() throws Exception {
        Group group = (Group) generated.get("Group").get(DemoData.GROUP_ID);
        Set<String> members = new TreeSet<>();
        group.getMember().forEach(member -> members.add(member.getEntity().getReferenceElement().getIdPart()));
        assertTrue(members.size() >= 5 && members.size() < PATIENTS);

        Map<String, Set<String>> exported = asIdSets(client.download(client.await(
                client.start("Group/" + DemoData.GROUP_ID + "/$export"))));
        assertEquals(members, exported.get("Patient"));
        assertSameSets(expectedFor(members), exported);
    }

    /** Resources in the compartment of one of {@code patients}, by type. */
    static Map<String, Set<String>> expectedFor(Set<String> patients) {
        PatientCompartment compartment = new PatientCompartment(CONTEXT);
        Map<String, Set<String>> expected = new TreeMap<>();
        generated.forEach((type, resources) -> resources.forEach((id, resource) -> {
            if (compartment.patientIds(resource).stream().anyMatch(patients::contains)) {
                expected.computeIfAbsent(type, t -> new TreeSet<>()).add(id);
            }
        }));
        return expected;
    }

    @Test
    void postWithParametersBodySelectsTypesAndPatients() throws Exception {
        Group group = (Group) generated.get("Group").get(DemoData.GROUP_ID);
        String first = group.getMember().get(0).getEntity().getReference();
        String second = group.getMember().get(1).getEntity().getReference();
        String body = """
                {"resourceType": "Parameters", "parameter": [
                  {"name": "_type", "valueString": "Patient,Observation"},
                  {"name": "_outputFormat", "valueString": "application/fhir+ndjson"},
                  {"name": "patient", "valueReference": {"reference": "%s"}},
                  {"name": "patient", "valueReference": {"reference": "%s"}}
                ]}""".formatted(first, second);
        HttpResponse<byte[]> response = client.kickoffPost("Group/" + DemoData.GROUP_ID + "/$export", body);
        assertEquals(202, response.statusCode(), text(response));
        JsonNode manifest = client.await(BulkClient.statusUrl(response));
        assertEquals(server.baseUrl() + "/Group/" + DemoData.GROUP_ID + "/$export", manifest.get("request").asText());
        Map<String, Set<String>> exported = asIdSets(client.download(manifest));
        Set<String> two = new TreeSet<>(List.of(first.substring(8), second.substring(8)));
        Map<String, Set<String>> expected = expectedFor(two);
        expected.keySet().retainAll(Set.of("Patient", "Observation"));
        assertSameSets(expected, exported);

        // Patient level, POST: a patient that does not exist, and one outside the Group, are 400.
        String unknown = """
                {"resourceType": "Parameters", "parameter": [
                  {"name": "patient", "valueReference": {"reference": "Patient/nobody-here"}}]}""";
        HttpResponse<byte[]> missing = client.kickoffPost("Patient/$export", unknown);
        assertEquals(400, missing.statusCode());
        assertTrue(outcome(missing).contains("Patient/nobody-here"));
        String outsider = DemoData.patientId(1);
        assertFalse(group.getMember().stream().anyMatch(m -> m.getEntity().getReference().endsWith(outsider)));
        HttpResponse<byte[]> notMember = client.kickoffPost("Group/" + DemoData.GROUP_ID + "/$export", """
                {"resourceType": "Parameters", "parameter": [
                  {"name": "patient", "valueReference": {"reference": "Patient/%s"}}]}""".formatted(outsider));
        assertEquals(400, notMember.statusCode());
        assertTrue(outcome(notMember).contains("Not a member of Group/" + DemoData.GROUP_ID));
        HttpResponse<byte[]> notParameters = client.kickoffPost("$export", "{\"resourceType\": \"Patient\"}");
        assertEquals(400, notParameters.statusCode());
        assertTrue(outcome(notParameters).contains("Parameters"));
    }

    @Test
    void aTypeWithoutDataGivesNoFileAndRepeatedTypeParametersAddUp() throws Exception {
        JsonNode manifest = client.await(client.start("$export?_type=Patient,Device&_type=Practitioner"));
        Set<String> types = new TreeSet<>();
        manifest.get("output").forEach(file -> types.add(file.get("type").asText()));
        assertEquals(Set.of("Patient", "Practitioner"), types);
    }

    @Test
    void sinceLeavesOlderResourcesOut() throws Exception {
        Thread.sleep(5);
        Instant since = Instant.now();
        Thread.sleep(5);
        Observation observation = new Observation();
        observation.setStatus(Observation.ObservationStatus.FINAL);
        observation.getCode().addCoding().setSystem("http://loinc.org").setCode("8867-4");
        observation.getSubject().setReference("Patient/" + DemoData.patientId(2));
        String created = server.store().create(observation).id();
        generated.get("Observation").put(created, observation);
        Patient patient = ((Patient) generated.get("Patient").get(DemoData.patientId(3))).copy();
        patient.setId(DemoData.patientId(3));
        patient.setActive(false);
        server.store().update(patient);
        generated.get("Patient").put(patient.getIdElement().getIdPart(), patient);

        Map<String, Set<String>> exported = asIdSets(client.download(client.await(
                client.start("$export?_since=" + since + "&_type=Patient,Observation,Encounter"))));
        assertEquals(Map.of("Observation", Set.of(created), "Patient", Set.of(DemoData.patientId(3))), exported);
    }

    @Test
    void elementsSubsetTheResourcesAndTagThemSubsetted() throws Exception {
        Map<String, List<IBaseResource>> byType = client.download(client.await(client.start(
                "$export?_type=Patient,MedicationRequest&_elements=Patient.gender,id")));
        for (IBaseResource resource : byType.get("Patient")) {
            Patient patient = (Patient) resource;
            assertTrue(patient.hasGender());
            assertFalse(patient.hasName(), "name was not asked for");
            assertTrue(patient.getMeta().getTag().stream().map(Coding::getCode).anyMatch("SUBSETTED"::equals));
        }
        for (IBaseResource resource : byType.get("MedicationRequest")) {
            MedicationRequest request = (MedicationRequest) resource;
            // Mandatory elements stay, whether asked for or not.
            assertTrue(request.hasStatus() && request.hasIntent() && request.hasMedication() && request.hasSubject());
            assertFalse(request.hasAuthoredOn());
        }
    }

    @Test
    void typeFilterKeepsOnlyMatchingResources() throws Exception {
        Map<String, List<IBaseResource>> byType = client.download(client.await(client.start(
                "$export?_type=Observation,Patient&_typeFilter=Observation%3Fcategory%3Dlaboratory")));
        long expected = generated.get("Observation").values().stream().filter(ExportTest::isLab).count();
        assertTrue(expected > 0);
        assertEquals(expected, byType.get("Observation").size());
        assertTrue(byType.get("Observation").stream().allMatch(ExportTest::isLab));
        assertEquals(PATIENTS, byType.get("Patient").size(), "types without a filter are whole");

        // Two queries for one type are ORed; parameters within one are ANDed.
        String one = DemoData.patientId(0);
        Map<String, List<IBaseResource>> either = client.download(client.await(client.start(
                "$export?_type=Observation&_typeFilter=Observation%3Fcategory%3Dlaboratory%26subject%3DPatient/" + one
                        + ",Observation%3Fcategory%3Dvital-signs%26patient%3D" + one)));
        long ofOne = generated.get("Observation").values().stream()
                .filter(o -> ((Observation) o).getSubject().getReference().endsWith(one)).count();
        assertEquals(ofOne, either.get("Observation").size());
    }

    @Test
    void typeFilterEvaluatesDatesIdsAndLastUpdated() throws Exception {
        java.util.Date cut = java.util.Date.from(Instant.parse("2022-01-01T00:00:00Z"));
        long before = generated.get("Encounter").values().stream()
                .filter(e -> ((org.hl7.fhir.r4.model.Encounter) e).getPeriod().getStart().before(cut)).count();
        assertTrue(before > 0 && before < generated.get("Encounter").size());
        Map<String, List<IBaseResource>> byType = client.download(client.await(client.start(
                "$export?_type=Encounter,Patient&_typeFilter=Encounter%3Fdate%3Dlt2022-01-01T00:00:00Z,"
                        + "Patient%3F_id%3D" + DemoData.patientId(0) + "%2C" + DemoData.patientId(1)
                        + "%26_lastUpdated%3Dgt2000-01-01")));
        assertEquals(before, byType.get("Encounter").size());
        assertEquals(Set.of(DemoData.patientId(0), DemoData.patientId(1)), new TreeSet<>(ids(byType, "Patient")));
    }

    static boolean isLab(IBaseResource resource) {
        return ((Observation) resource).getCategory().stream()
                .anyMatch(c -> c.getCoding().stream().anyMatch(coding -> "laboratory".equals(coding.getCode())));
    }

    @Test
    void includeAssociatedDataIsRefusedStrictlyAndAWarningInTheKickoffAndTheErrorFileLeniently() throws Exception {
        HttpResponse<byte[]> strict = client.kickoff("$export?_type=Organization&includeAssociatedData=_myCustomPreset");
        assertEquals(400, strict.statusCode(), text(strict));
        assertTrue(outcome(strict).contains("includeAssociatedData") && outcome(strict).contains("not-supported"),
                text(strict));

        HttpResponse<byte[]> response = client.kickoff("$export?_type=Organization&includeAssociatedData=_myCustomPreset",
                "Prefer", "respond-async, handling=lenient");
        assertEquals(202, response.statusCode(), text(response));
        String kickoff = outcome(response);
        assertTrue(kickoff.contains("\"severity\":\"warning\"") && kickoff.contains("_myCustomPreset"), kickoff);
        JsonNode manifest = client.await(BulkClient.statusUrl(response));
        assertEquals(1, manifest.get("error").size());
        Map<String, List<IBaseResource>> files = client.download(manifest);
        assertEquals(1, files.get("OperationOutcome").size());
        assertEquals(3, files.get("Organization").size());
    }

    @Test
    void binaryIsExportedWithItsContentEmbedded() throws Exception {
        Map<String, List<IBaseResource>> byType = client.download(client.await(client.start("$export?_type=Binary")));
        Binary exported = (Binary) byType.get("Binary").get(0);
        assertEquals(DemoData.BINARY_ID, exported.getIdElement().getIdPart());
        byte[] original = ((Binary) generated.get("Binary").get(DemoData.BINARY_ID)).getData();
        assertArrayEquals(original, exported.getData());
        assertEquals("application/pdf", exported.getContentType());
    }

    @Test
    void lenientHandlingTurnsUnsupportedParametersIntoWarnings() throws Exception {
        HttpResponse<byte[]> response = client.kickoff("$export?_type=Patient,NoSuchType&frobnicate=1",
                "Prefer", "respond-async, handling=lenient");
        assertEquals(202, response.statusCode(), text(response));
        assertTrue(outcome(response).contains("NoSuchType"));
        JsonNode manifest = client.await(BulkClient.statusUrl(response));
        Map<String, List<IBaseResource>> files = client.download(manifest);
        assertEquals(2, files.get("OperationOutcome").size(), "one warning per ignored parameter");
        assertEquals(PATIENTS, files.get("Patient").size());
    }

    @Test
    void leniencyDroppingEveryNamedTypeExportsNothingRatherThanEverything() throws Exception {
        HttpResponse<byte[]> response = client.kickoff("$export?_type=Foo", "Prefer", "respond-async, handling=lenient");
        assertEquals(202, response.statusCode(), text(response));
        assertTrue(outcome(response).contains("'Foo'") && outcome(response).contains("\"severity\":\"warning\""),
                text(response));
        JsonNode manifest = client.await(BulkClient.statusUrl(response));
        assertEquals(0, manifest.get("output").size(), manifest.toString());
        Map<String, List<IBaseResource>> files = client.download(manifest);
        assertEquals(Set.of("OperationOutcome"), files.keySet());
        assertTrue(CONTEXT.newJsonParser().encodeResourceToString(files.get("OperationOutcome").get(0)).contains("Foo"));
    }

    @Test
    void malformedParametersAre400EvenLeniently() throws Exception {
        for (String kickoff : List.of("$export?_type=Patient%00", "$export?_since=2024-01-01T00:00:00Z%00",
                "$export?_outputFormat=ndjson%00")) {
            for (String prefer : List.of("respond-async", "respond-async, handling=lenient")) {
                HttpResponse<byte[]> response = client.kickoff(kickoff, "Prefer", prefer);
                assertEquals(400, response.statusCode(), kickoff + " " + prefer + " -> " + text(response));
                assertTrue(outcome(response).contains("control character"), text(response));
            }
        }
        HttpResponse<byte[]> emptyFilter = client.kickoff("$export?_typeFilter=Observation%3F");
        assertEquals(400, emptyFilter.statusCode(), text(emptyFilter));
        assertTrue(outcome(emptyFilter).contains("no search parameters"), text(emptyFilter));
    }

    @Test
    void headersFollowTheIg() throws Exception {
        // Missing Accept and Prefer: taken as application/fhir+json and respond-async.
        HttpResponse<byte[]> bare = client.get("$export?_type=Organization");
        assertEquals(202, bare.statusCode(), text(bare));
        client.await(BulkClient.statusUrl(bare));
        for (String format : List.of("ndjson", "application/ndjson", "application/fhir%2Bndjson")) {
            client.await(client.start("$export?_type=Organization&_outputFormat=" + format));
        }
        HttpResponse<byte[]> prefer = client.send("GET", "$export", null, "Prefer", "return=representation");
        assertEquals(400, prefer.statusCode());
        assertTrue(outcome(prefer).contains("respond-async"));
        HttpResponse<byte[]> accept = client.send("GET", "$export", null, "Accept", "text/html", "Prefer", "respond-async");
        assertEquals(400, accept.statusCode());
    }

    @Test
    void everyInvalidParameterIsA400NamingIt() throws Exception {
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("$export?_outputFormat=text/csv", "_outputFormat");
        cases.put("$export?_since=2024-01-01", "_since");
        cases.put("$export?_since=yesterday", "_since");
        cases.put("$export?_since=2024-01-01T00:00:00Z&_since=2024-02-01T00:00:00Z", "_since may be given once");
        cases.put("$export?_type=Patient,Nope", "'Nope'");
        cases.put("$export?_type=Patient,,Observation", "empty entry");
        cases.put("Patient/$export?_type=Organization", "not in the Patient compartment");
        cases.put("Group/" + DemoData.GROUP_ID + "/$export?_type=Practitioner", "not in the Patient compartment");
        cases.put("$export?_elements=Patient.name.family", "only root elements");
        cases.put("$export?_elements=Patient.nickname", "no element 'nickname'");
        cases.put("$export?_elements=Nope.id", "'Nope' is not an R4 resource type");
        cases.put("$export?_typeFilter=Observation%3Fvalue-string%3Dx", "value-string");
        cases.put("$export?_typeFilter=Observation%3Fcategory%3Alabel%3Dx", "modifier :label");
        cases.put("$export?_typeFilter=Observation%3F_sort%3Ddate", "_sort");
        cases.put("$export?_typeFilter=Observation%3Fnot-a-param%3D1", "no search parameter 'not-a-param'");
        cases.put("$export?_typeFilter=category%3Dlaboratory", "[type]?[search parameters]");
        cases.put("$export?_typeFilter=Observation%3Fdate%3Dgt2024-13-45", "not a valid date");
        cases.put("$export?_type=Patient&_typeFilter=Observation%3Fcategory%3Dlaboratory", "which _type does not ask for");
        cases.put("$export?patient=Patient/1", "only in the Parameters body");
        cases.put("$export?frobnicate=1", "Unknown parameter 'frobnicate'");
        for (Map.Entry<String, String> entry : cases.entrySet()) {
            HttpResponse<byte[]> response = client.kickoff(entry.getKey());
            assertEquals(400, response.statusCode(), entry.getKey() + " -> " + text(response));
            String outcome = outcome(response);
            assertTrue(outcome.contains(entry.getValue()), entry.getKey() + " -> " + outcome);
        }
        HttpResponse<byte[]> systemPatient = client.kickoffPost("$export", """
                {"resourceType": "Parameters", "parameter": [
                  {"name": "patient", "valueReference": {"reference": "Patient/%s"}}]}""".formatted(DemoData.patientId(0)));
        assertEquals(400, systemPatient.statusCode());
        assertTrue(outcome(systemPatient).contains("Patient and Group exports only"));
        HttpResponse<byte[]> noGroup = client.kickoff("Group/no-such-group/$export");
        assertEquals(404, noGroup.statusCode());
        assertTrue(outcome(noGroup).contains("Group/no-such-group"));
        // Several problems: all of them in one OperationOutcome.
        HttpResponse<byte[]> several = client.kickoff("$export?_outputFormat=csv&_since=soon");
        assertEquals(400, several.statusCode());
        assertTrue(outcome(several).contains("_outputFormat") && outcome(several).contains("_since"));
    }

    @Test
    void statusUrlAnswersUnknownJobsAndCancelsFinishedOnes() throws Exception {
        HttpResponse<byte[]> unknown = client.get("$export-poll-status?_jobId=0123456789abcdef0123456789abcdef");
        assertEquals(404, unknown.statusCode());
        outcome(unknown);
        assertEquals(404, client.get("$export-poll-status?_jobId=../../etc").statusCode());
        HttpResponse<byte[]> missing = client.get("$export-poll-status");
        assertEquals(400, missing.statusCode());
        outcome(missing);
        assertEquals(404, client.send("DELETE", "$export-poll-status?_jobId=0123456789abcdef0123456789abcdef", null)
                .statusCode());

        String status = client.start("$export?_type=Patient");
        JsonNode manifest = client.await(status);
        String file = manifest.get("output").get(0).get("url").asText();
        HttpResponse<byte[]> cancel = client.send("DELETE", status, null);
        assertEquals(202, cancel.statusCode(), text(cancel));
        outcome(cancel);
        assertEquals(404, client.get(status).statusCode());
        assertEquals(404, client.get(file).statusCode());
        assertEquals(404, client.send("DELETE", status, null).statusCode());
        assertFalse(java.nio.file.Files.exists(dataDir.resolve("export").resolve(BulkClient.jobId(status))));
    }

    @Test
    void capabilityStatementDeclaresTheExportOperations() throws Exception {
        CapabilityStatement capability = CONTEXT.newJsonParser().parseResource(CapabilityStatement.class,
                new String(client.get("metadata").body(), StandardCharsets.UTF_8));
        assertTrue(capability.getInstantiates().stream()
                .anyMatch(c -> c.getValue().equals("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data")));
        Map<String, String> definitions = new HashMap<>();
        CapabilityStatement.CapabilityStatementRestComponent rest = capability.getRestFirstRep();
        rest.getOperation().forEach(op -> definitions.put("system " + op.getName(), op.getDefinition()));
        rest.getResource().forEach(resource -> resource.getOperation()
                .forEach(op -> definitions.put(resource.getType() + " " + op.getName(), op.getDefinition())));
        assertEquals("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export", definitions.get("system export"));
        assertEquals("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
                definitions.get("Patient export"));
        assertEquals("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export", definitions.get("Group export"));
    }
}
