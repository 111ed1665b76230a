package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.demo.DemoData;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.Parameters;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static dev.bulkfhir.server.export.BulkClient.CONTEXT;
import static dev.bulkfhir.server.export.BulkClient.outcome;
import static dev.bulkfhir.server.export.BulkClient.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code organizeOutputBy=Patient} (Bulk Data IG STU3) over HTTP on the standalone server: resource
 * blocks (a Parameters header naming the patient, then its compartment), {@code outputOrganizedBy},
 * blocks cut only when larger than a file (then {@code continuesInFile} and the header repeated), with
 * {@code _type}, {@code _typeFilter}, {@code _elements}, {@code patient} and Group level; and the 400s.
 */
class ExportOrganizedTest {

    static final int PATIENTS = 14;
    static final long SEED = 11;
    /** Lines per file: the demo patients' blocks are about this size, some larger, most smaller. */
    static final int FILE_LINES = 20;

    @TempDir
    static Path dataDir;
    static StandaloneServer server;
    static BulkClient client;
    static final Map<String, Map<String, IBaseResource>> generated = new TreeMap<>();

    @BeforeAll
    static void start() throws Exception {
        ServerSettings settings = ServerSettings.builder(dataDir)
                .export(ExportSettings.defaults().withFileLimits(FILE_LINES, 512L * 1024 * 1024)).build();
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

    @Test
    void patientExportOrganizedByPatientHoldsEachPatientsCompartmentInOneBlock() throws Exception {
        JsonNode manifest = client.await(client.start("Patient/$export?organizeOutputBy=Patient"));
        assertEquals("Patient", manifest.path("outputOrganizedBy").asText());
        Blocks blocks = readBlocks(manifest);
        Set<String> all = new TreeSet<>(generated.get("Patient").keySet());
        assertEquals(all, blocks.byPatient.keySet());
        assertSameResources(ExportControlTest.expectedFor(generated, all), blocks);
        blocks.byPatient.forEach((patient, resources) -> {
            assertEquals("Patient/" + patient, resources.get(0), "the block starts with its Patient");
            assertTrue(new HashSet<>(resources).size() == resources.size(), "once each in its block");
        });
        assertTrue(blocks.continued > 0, "some demo patient's block is larger than a file of " + FILE_LINES);
        assertTrue(blocks.files > blocks.continued + 1, "and others are not");
    }

    @Test
    void systemAndGroupLevelWithTypeFilterElementsAndPatient() throws Exception {
        // System level: the Patient compartment's types only.
        JsonNode system = client.await(client.start("$export?organizeOutputBy=Patient&_type=Patient,Observation"
                + "&_typeFilter=Observation%3Fstatus%3Dfinal&_elements=id,status"));
        Blocks blocks = readBlocks(system);
        Map<String, Set<String>> expected = ExportControlTest.expectedFor(generated,
                new TreeSet<>(generated.get("Patient").keySet()));
        expected.keySet().retainAll(Set.of("Patient", "Observation"));
        expected.get("Observation").removeIf(id -> !((org.hl7.fhir.r4.model.Observation) generated.get("Observation")
                .get(id)).getStatus().toCode().equals("final"));
        assertSameResources(expected, blocks);
        assertTrue(blocks.lines.stream().noneMatch(line -> line.contains("\"valueQuantity\"")), "_elements applied");

        // Group level, POST, with patient: the members named, in blocks.
        Group group = (Group) generated.get("Group").get(DemoData.GROUP_ID);
        List<String> members = group.getMember().stream().map(m -> m.getEntity().getReferenceElement().getIdPart())
                .sorted().toList();
        HttpResponse<byte[]> response = client.kickoffPost("Group/" + DemoData.GROUP_ID + "/$export", """
                {"resourceType": "Parameters", "parameter": [
                  {"name": "organizeOutputBy", "valueString": "Patient"},
                  {"name": "patient", "valueReference": {"reference": "Patient/%s"}},
                  {"name": "patient", "valueReference": {"reference": "Patient/%s"}}]}"""
                .formatted(members.get(0), members.get(1)));
        assertEquals(202, response.statusCode(), text(response));
        Blocks group2 = readBlocks(client.await(BulkClient.statusUrl(response)));
        assertEquals(new TreeSet<>(members.subList(0, 2)), group2.byPatient.keySet());
        assertSameResources(ExportControlTest.expectedFor(generated, new TreeSet<>(members.subList(0, 2))), group2);
    }

    @Test
    void unsupportedOrganizationsAreRefusedByName() throws Exception {
        for (String query : List.of("organizeOutputBy=Observation", "organizeOutputBy=Nonsense",
                "organizeOutputBy=Patient&organizeOutputBy=Patient", "organizeOutputBy=Patient&_type=Organization",
                "allowPartialManifests=maybe")) {
            HttpResponse<byte[]> response = client.kickoff("$export?" + query);
            assertEquals(400, response.statusCode(), query + ": " + text(response));
            String name = query.substring(query.lastIndexOf('&') + 1, query.indexOf('=', query.lastIndexOf('&') + 1));
            assertTrue(outcome(response).contains(name.equals("_type") ? "Patient compartment" : name), text(response));
        }
        // Lenient: an unsupported organization is dropped, the output is by type as before.
        HttpResponse<byte[]> lenient = client.kickoff("$export?_type=Patient&organizeOutputBy=Observation",
                "Prefer", "respond-async, handling=lenient");
        assertEquals(202, lenient.statusCode(), text(lenient));
        assertTrue(outcome(lenient).contains("organizeOutputBy=Observation is not supported"), text(lenient));
        JsonNode manifest = client.await(BulkClient.statusUrl(lenient));
        assertTrue(manifest.path("outputOrganizedBy").isMissingNode());
        assertEquals(PATIENTS, client.download(manifest).get("Patient").size());
    }

    /** The output files read block by block, checking the IG's rules for them on the way. */
    static final class Blocks {
        final Map<String, List<String>> byPatient = new TreeMap<>();
        final List<String> lines = new ArrayList<>();
        int files;
        int continued;
    }

    static Blocks readBlocks(JsonNode manifest) throws Exception {
        Blocks blocks = new Blocks();
        Map<String, JsonNode> byUrl = new HashMap<>();
        manifest.get("output").forEach(file -> byUrl.put(file.get("url").asText(), file));
        Set<String> continuations = new HashSet<>();
        manifest.get("output").forEach(file -> {
            if (file.has("continuesInFile")) continuations.add(file.get("continuesInFile").asText());
        });
        Set<String> closedBlocks = new HashSet<>();
        String continuing = null; // the patient whose block the previous file left open
        for (JsonNode file : manifest.get("output")) {
            blocks.files++;
            assertFalse(file.has("type"), "organized files hold several types: no type");
            String url = file.get("url").asText();
            HttpResponse<byte[]> response = client.get(url, "Accept", "application/fhir+ndjson");
            assertEquals(200, response.statusCode(), text(response));
            String[] lines = new String(response.body(), StandardCharsets.UTF_8).split("\n");
            assertTrue(lines.length <= FILE_LINES, "file cap kept: " + lines.length);
            String patient = null;
            int resources = 0;
            List<String> blockSizes = new ArrayList<>();
            for (String line : lines) {
                blocks.lines.add(line);
                IBaseResource resource = CONTEXT.newJsonParser().parseResource(line);
                if (resource instanceof Parameters header) {
                    assertEquals("header", header.getParameterFirstRep().getName());
                    String reference = ((org.hl7.fhir.r4.model.Reference) header.getParameterFirstRep().getValue())
                            .getReference();
                    assertTrue(reference.startsWith("Patient/"), reference);
                    patient = reference.substring("Patient/".length());
                    if (continuing != null) {
                        assertEquals(continuing, patient, "a continued file starts with the block's header again");
                        continuing = null;
                    } else {
                        assertTrue(closedBlocks.add(patient), "one block per patient: " + patient);
                    }
                    blockSizes.add(patient);
                    continue;
                }
                assertTrue(patient != null, "a file starts with a header");
                resources++;
                blocks.byPatient.computeIfAbsent(patient, p -> new ArrayList<>()).add(
                        CONTEXT.getResourceType(resource) + "/" + resource.getIdElement().getIdPart());
            }
            assertEquals(file.get("count").asLong(), resources, "count without the headers: " + url);
            if (file.has("continuesInFile")) {
                blocks.continued++;
                continuing = patient;
                assertTrue(byUrl.containsKey(file.get("continuesInFile").asText()), "continuation in the manifest");
                // Cut only because the block is larger than a file: it began at the top of this file.
                assertEquals(1, blockSizes.size(), "a cut block has a file of its own: " + url);
            }
            assertTrue(continuations.contains(url) == (blocks.files > 1 && lastContinued(manifest, url)),
                    "continuesInFile names the next file: " + url);
        }
        assertNull(continuing, "the last file's block is complete");
        return blocks;
    }

    /** Whether the file listed before {@code url} names it as its continuation. */
    private static boolean lastContinued(JsonNode manifest, String url) {
        JsonNode previous = null;
        for (JsonNode file : manifest.get("output")) {
            if (file.get("url").asText().equals(url)) {
                return previous != null && previous.path("continuesInFile").asText().equals(url);
            }
            previous = file;
        }
        return false;
    }

    static void assertSameResources(Map<String, Set<String>> expected, Blocks blocks) {
        Map<String, Set<String>> actual = new TreeMap<>();
        blocks.byPatient.values().forEach(resources -> resources.forEach(reference -> actual.computeIfAbsent(
                reference.substring(0, reference.indexOf('/')), t -> new TreeSet<>())
                .add(reference.substring(reference.indexOf('/') + 1))));
        ExportTest.assertSameSets(expected, actual);
    }
}
