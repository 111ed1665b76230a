package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.jpa.JpaBinarySource;
import dev.bulkfhir.storage.jpa.JpaResourceSource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Reference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real HAPI JPA server, written to over HTTP with HAPI's client, read back through
 * {@link JpaResourceSource} and {@link JpaBinarySource}. One history for all tests:
 *
 * <pre>
 *   p3, o3 (no patient), p5 then its deletion, o5 then its deletion   — before {@code since}
 *   since
 *   p1, p2 then its update, p6, o1 (subject p1), o2 (subject p2), o4 (performer p3),
 *   Group g1 (p1, p2, inactive p3)
 *   Binaries: b1 (then a second version), a large one (in HAPI's binary storage), b3 then its deletion
 *   asOf
 *   p1 updated, p4 created, o2 deleted, o1 updated, g1 gets p4, p6 deleted
 * </pre>
 */
class JpaResourceSourceTest {

    private static final byte[] LARGE = largeContent();

    private static JpaHost host;
    private static IGenericClient client;
    private static JpaResourceSource source;
    private static JpaBinarySource binaries;
    private static Instant since;
    private static Instant asOf;
    private static String largeBinaryId;

    @BeforeAll
    static void startAndWrite() throws Exception {
        host = JpaHost.inMemory().start();
        FhirContext context = host.fhirContext();
        context.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.NEVER);
        context.getRestfulClientFactory().setSocketTimeout(120_000);
        client = context.newRestfulGenericClient(host.baseUrl());
        source = JpaResourceSource.of(host.spring());
        binaries = JpaBinarySource.of(host.spring());

        put(patient("p3", "Third"));
        put(observation("o3", null, null));
        put(patient("p5", "Fifth"));
        client.delete().resourceById("Patient", "p5").execute();
        put(observation("o5", "p3", null));
        client.delete().resourceById("Observation", "o5").execute();
        since = pause();

        put(patient("p1", "First"));
        put(patient("p2", "Second"));
        put(patient("p2", "Second, renamed"));
        put(patient("p6", "Sixth"));
        put(observation("o1", "p1", null));
        put(observation("o2", "p2", null));
        put(observation("o4", null, "p3"));
        put(group("g1", "p1", "p2"));
        put(binary("b1", "text/plain", "first".getBytes(StandardCharsets.UTF_8)));
        put(binary("b1", "text/plain", "second".getBytes(StandardCharsets.UTF_8)));
        // POST, not PUT: HAPI 8.8 stores externalized content twice on a create-by-update and fails
        largeBinaryId = client.create().resource(binary(null, "application/pdf", LARGE)).execute().getId().getIdPart();
        put(binary("b3", "text/plain", "gone".getBytes(StandardCharsets.UTF_8)));
        client.delete().resourceById("Binary", "b3").execute();
        asOf = pause();

        put(patient("p1", "First, renamed"));
        put(patient("p4", "Fourth"));
        client.delete().resourceById("Observation", "o2").execute();
        put(observation("o1", "p1", null).setStatus(Observation.ObservationStatus.AMENDED));
        put(group("g1", "p1", "p2", "p4"));
        client.delete().resourceById("Patient", "p6").execute();
    }

    @AfterAll
    static void stop() throws Exception {
        if (host != null) host.close();
    }

    @Test
    void systemExportHasEachResourceInItsVersionAsOfTheTransactionTime() throws IOException {
        assertEquals(Map.of("p1", "1", "p2", "2", "p3", "1", "p6", "1"), export(ExportQuery.all("Patient", null, asOf)));
        // o2 deleted after asOf is there as it was; o5 deleted before is not
        assertEquals(Map.of("o1", "1", "o2", "1", "o3", "1", "o4", "1"),
                export(ExportQuery.all("Observation", null, asOf)));
        assertEquals(Map.of("g1", "1"), export(ExportQuery.all("Group", null, asOf)));
    }

    @Test
    void laterTransactionTimeSeesTheLaterVersions() throws IOException {
        assertEquals(Map.of("p1", "2", "p2", "2", "p3", "1", "p4", "1"),
                export(ExportQuery.all("Patient", null, Instant.now())));
        assertEquals(Map.of("o1", "2", "o3", "1", "o4", "1"),
                export(ExportQuery.all("Observation", null, Instant.now())));
    }

    @Test
    void sinceKeepsOnlyWhatChangedAfterIt() throws IOException {
        assertEquals(Map.of("p1", "1", "p2", "2", "p6", "1"), export(ExportQuery.all("Patient", since, asOf)));
        assertEquals(Map.of("o1", "1", "o2", "1", "o4", "1"), export(ExportQuery.all("Observation", since, asOf)));
    }

    @Test
    void patientCompartmentOfAnyPatient() throws IOException {
        assertEquals(Map.of("o1", "1", "o2", "1", "o4", "1"), export(compartment("Observation", null)));
        assertEquals(Map.of("p1", "1", "p2", "2", "p3", "1", "p6", "1"), export(compartment("Patient", null)));
        assertEquals(Map.of("g1", "1"), export(compartment("Group", null)), "Group.member is in the compartment");
        assertEquals(Map.of(), export(compartment("Binary", null)), "Binary never is");
    }

    @Test
    void patientCompartmentOfSomePatients() throws IOException {
        assertEquals(Map.of("o1", "1"), export(compartment("Observation", Set.of("p1"))));
        assertEquals(Map.of("o4", "1"), export(compartment("Observation", Set.of("p3"))), "performer counts");
        assertEquals(Map.of("o2", "1"), export(compartment("Observation", Set.of("p2", "p4"))));
        assertEquals(Map.of("p1", "1", "p6", "1"), export(compartment("Patient", Set.of("p1", "p6", "p4"))));
        assertEquals(Map.of(), export(compartment("Patient", Set.of())));
    }

    @Test
    void groupMembersAsOfTheTransactionTime() {
        assertEquals(Optional.of(Set.of("p1", "p2")), source.groupMembers("g1", asOf));
        assertEquals(Optional.of(Set.of("p1", "p2", "p4")), source.groupMembers("g1", Instant.now()));
        assertEquals(Optional.empty(), source.groupMembers("g1", since), "not created yet");
        assertEquals(Optional.empty(), source.groupMembers("no-such-group", asOf));
    }

    @Test
    void existingPatientsAsOfTheTransactionTime() {
        Set<String> asked = Set.of("p1", "p2", "p3", "p4", "p5", "p6", "no-such-patient", "not a valid id!");
        assertEquals(Set.of("p1", "p2", "p3", "p6"), source.existingPatients(asked, asOf));
        assertEquals(Set.of("p1", "p2", "p3", "p4"), source.existingPatients(asked, Instant.now()));
    }

    @Test
    void readsOneResourceInItsVersionAsOfAnInstant() {
        String p1 = new String(source.read("Patient", "p1", asOf).orElseThrow(), StandardCharsets.UTF_8);
        assertTrue(p1.contains("First") && !p1.contains("renamed"), p1);
        assertTrue(new String(source.read("Patient", "p1", Instant.now()).orElseThrow(), StandardCharsets.UTF_8)
                .contains("First, renamed"));
        assertTrue(source.read("Observation", "o2", asOf).isPresent());
        assertEquals(Optional.empty(), source.read("Observation", "o2", Instant.now()), "deleted since");
        assertEquals(Optional.empty(), source.read("Patient", "p4", asOf), "not created yet");
        assertEquals(Optional.empty(), source.read("Patient", "p5", asOf), "deleted");
        assertEquals(Optional.empty(), source.read("Patient", "no-such-patient", asOf));
    }

    @Test
    void hasDataOnlyForTypesEverStored() {
        assertTrue(source.hasData("Patient"));
        assertTrue(source.hasData("Observation"));
        assertFalse(source.hasData("Medication"));
        assertFalse(source.hasData("NoSuchType"));
    }

    @Test
    void binariesAreExportedWithTheirContent() throws IOException {
        List<String> lines = lines(ExportQuery.all("Binary", null, asOf));
        Map<String, Binary> byId = new TreeMap<>();
        for (String line : lines) {
            Binary binary = host.fhirContext().newJsonParser().parseResource(Binary.class, line);
            byId.put(binary.getIdElement().getIdPart(), binary);
        }
        assertEquals(Set.of("b1", largeBinaryId), byId.keySet());
        assertEquals("second", new String(byId.get("b1").getData(), StandardCharsets.UTF_8));
        assertArrayEquals(LARGE, byId.get(largeBinaryId).getData(), "put back from the host's binary storage");
    }

    @Test
    void streamsOfSeveralTypesRunAtOnce() throws Exception {
        List<CompletableFuture<Map<String, String>>> running = new ArrayList<>();
        for (String type : List.of("Patient", "Observation", "Patient", "Observation")) {
            running.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return export(ExportQuery.all(type, null, asOf));
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        assertEquals(running.get(0).get(), running.get(2).get());
        assertEquals(Map.of("o1", "1", "o2", "1", "o3", "1", "o4", "1"), running.get(3).get());
    }

    @Test
    void aStoppingSinkStopsTheStream() {
        RuntimeException stop = new IllegalStateException("cancelled");
        RuntimeException thrown = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
                () -> source.stream(ExportQuery.all("Observation", null, asOf), new ResourceSink() {
                    @Override
                    public void resource(byte[] json) {
                        throw stop;
                    }

                    @Override
                    public void error(String reference, String message) {
                    }
                }));
        assertEquals(stop, thrown);
    }

    @Test
    void binarySourceServesCurrentAndOldVersions() throws IOException {
        BinaryDocument current = binaries.find("b1", null).orElseThrow();
        assertEquals(2, current.version());
        assertEquals("text/plain", current.contentType());
        assertFalse(current.deleted());
        assertEquals("second", new String(current.content().readAllBytes(), StandardCharsets.UTF_8));
        assertNotNull(current.lastUpdated());
        String json = new String(current.json(), StandardCharsets.UTF_8);
        assertFalse(json.contains("\"data\""), json);
        assertTrue(json.contains("\"versionId\":\"2\""), json);

        BinaryDocument first = binaries.find("b1", 1L).orElseThrow();
        assertEquals(1, first.version());
        assertEquals("first", new String(first.content().readAllBytes(), StandardCharsets.UTF_8));

        assertEquals(Optional.empty(), binaries.find("b1", 7L));
        assertEquals(Optional.empty(), binaries.find("no-such-binary", null));
    }

    @Test
    void binarySourceStreamsContentFromTheHostsBinaryStorage() throws IOException {
        BinaryDocument large = binaries.find(largeBinaryId, null).orElseThrow();
        assertEquals("application/pdf", large.contentType());
        assertEquals(LARGE.length, large.content().size());
        assertArrayEquals(LARGE, large.content().readAllBytes());
        ByteArrayOutputStream slice = new ByteArrayOutputStream();
        large.content().copyTo(slice, 70_000, 1_000);
        assertArrayEquals(Arrays.copyOfRange(LARGE, 70_000, 71_000), slice.toByteArray());
    }

    @Test
    void binarySourceReportsDeletedBinaries() {
        BinaryDocument deleted = binaries.find("b3", null).orElseThrow();
        assertTrue(deleted.deleted());
        assertNull(deleted.content());
        BinaryDocument before = binaries.find("b3", 1L).orElseThrow();
        assertFalse(before.deleted());
    }

    @Test
    void theHostServesItsOwnBinaries() throws Exception {
        HttpResponse<byte[]> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(host.baseUrl() + "/Binary/" + largeBinaryId)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode());
        assertEquals("application/pdf", response.headers().firstValue("Content-Type").orElseThrow());
        assertArrayEquals(LARGE, response.body());
    }

    /** The exported resources, id to versionId, after checking that every line is one JSON resource. */
    private static Map<String, String> export(ExportQuery query) throws IOException {
        Map<String, String> versions = new TreeMap<>();
        for (String line : lines(query)) {
            IBaseResource resource = host.fhirContext().newJsonParser().parseResource(line);
            assertEquals(query.type(), host.fhirContext().getResourceType(resource));
            assertNotNull(resource.getMeta().getLastUpdated(), line);
            String previous = versions.put(resource.getIdElement().getIdPart(), resource.getMeta().getVersionId());
            assertNull(previous, "exported twice: " + line);
        }
        return versions;
    }

    private static List<String> lines(ExportQuery query) throws IOException {
        List<String> lines = Collections.synchronizedList(new ArrayList<>());
        List<String> errors = new ArrayList<>();
        source.stream(query, new ResourceSink() {
            @Override
            public void resource(byte[] json) {
                String line = new String(json, StandardCharsets.UTF_8);
                assertFalse(line.contains("\n") || line.contains("\r"), line);
                lines.add(line);
            }

            @Override
            public void error(String reference, String message) {
                errors.add(reference + ": " + message);
            }
        });
        assertEquals(List.of(), errors);
        return lines;
    }

    private static ExportQuery compartment(String type, Set<String> patients) {
        return new ExportQuery(type, null, asOf, true, patients);
    }

    private static void put(IBaseResource resource) {
        client.update().resource(resource).execute();
    }

    /** A moment between two writes: the clock moves on before and after it. */
    private static Instant pause() throws InterruptedException {
        Thread.sleep(20);
        Instant moment = Instant.now();
        Thread.sleep(20);
        return moment;
    }

    private static Patient patient(String id, String family) {
        Patient patient = new Patient();
        patient.setId(id);
        patient.addName().setFamily(family);
        return patient;
    }

    private static Observation observation(String id, String subject, String performer) {
        Observation observation = new Observation();
        observation.setId(id);
        observation.setStatus(Observation.ObservationStatus.FINAL);
        observation.getCode().setText("heart rate");
        if (subject != null) observation.setSubject(new Reference("Patient/" + subject));
        if (performer != null) observation.addPerformer(new Reference("Patient/" + performer));
        return observation;
    }

    private static Group group(String id, String... members) {
        Group group = new Group();
        group.setId(id);
        group.setType(Group.GroupType.PERSON);
        group.setActual(true);
        for (String member : members) group.addMember().setEntity(new Reference("Patient/" + member));
        group.addMember().setEntity(new Reference("Patient/p3")).setInactive(true);
        return group;
    }

    private static Binary binary(String id, String contentType, byte[] content) {
        Binary binary = new Binary();
        if (id != null) binary.setId(id);
        binary.setContentType(contentType);
        binary.setData(content);
        return binary;
    }

    /** Above the host's threshold for keeping Binary content in its binary storage. */
    private static byte[] largeContent() {
        byte[] content = new byte[JpaHostConfig.EXTERNALIZED_BINARY_MINIMUM + 50_000];
        for (int i = 0; i < content.length; i++) content[i] = (byte) (i * 31 + (i >> 8));
        return content;
    }
}
