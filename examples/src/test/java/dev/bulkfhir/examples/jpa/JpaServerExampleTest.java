package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.dao.DaoRegistry;
import ca.uhn.fhir.jpa.api.dao.IFhirResourceDao;
import ca.uhn.fhir.jpa.binary.provider.BinaryAccessProvider;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import dev.bulkfhir.providers.audit.AuditEvents;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.providers.audit.AuditWriter;
import org.hl7.fhir.r4.model.AuditEvent;
import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.examples.BulkDataClient;
import dev.bulkfhir.providers.BulkFhirPlugin;
import dev.bulkfhir.providers.auth.SmartAuth;
import dev.bulkfhir.storage.jpa.JpaBinarySource;
import dev.bulkfhir.storage.jpa.JpaResourceSource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.HumanName;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Quantity;
import org.hl7.fhir.r4.model.Reference;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Example (b): a real HAPI JPA server with the plugin installed. Data is written through the JPA
 * server's own REST API; export reads it through the JPA DAOs; Binary stays HAPI JPA's own, and the
 * plugin serves its native reads and downloads.
 */
class JpaServerExampleTest {

    @TempDir
    static Path dataDir;
    static JpaHost host;
    static BulkFhirPlugin plugin;
    static AuditWriter audit;
    static FhirContext context;
    static BulkDataClient writer;
    static BulkDataClient reader;
    /** What was written, as the JPA server answered the create: "Type/id" to the resource. */
    static final Map<String, Resource> written = new HashMap<>();
    static final List<String> patients = new java.util.ArrayList<>();
    static String groupId;
    static final byte[] PDF = "%PDF-1.4\n% discharge summary\n%%EOF\n".getBytes(StandardCharsets.US_ASCII);
    static String binaryPath;

    @BeforeAll
    static void start() throws Exception {
        Path clients = dataDir.resolve("clients.json");
        host = JpaHost.inMemory().customize((server, spring) -> {
            // The plugin's $binary-access-read (streamed, with Range) takes the place of HAPI JPA's.
            server.unregisterProvider(spring.getBean(BinaryAccessProvider.class));
            // The audit trail as AuditEvents in the host's own store, written in batches off the request threads.
            IFhirResourceDao<AuditEvent> auditEvents = spring.getBean(DaoRegistry.class).getResourceDao(AuditEvent.class);
            audit = AuditWriter.start("audit-writer", AuditWriter.DEFAULT_CAPACITY, batch -> {
                for (AuditRecord record : batch) {
                    auditEvents.create(AuditEvents.render(record, null, "jpa-host"), new SystemRequestDetails());
                }
            });
            plugin = BulkFhirPlugin.builder(server.getFhirContext())
                    .audit(audit)
                    .resources(JpaResourceSource.of(spring))     // export reads through the JPA DAOs
                    .hostBinaries(JpaBinarySource.of(spring))    // Binary stays HAPI JPA's
                    .dataDirectory(dataDir)
                    .auth(SmartAuth.tokens(clients, dataDir.resolve("signing-key.jwk"), Duration.ofMinutes(5)))
                    .start();
            plugin.install(server);
        }).start();
        context = host.fhirContext();
        writer = new BulkDataClient(host.baseUrl()).authorize(clients, "loader", "system/*.*");
        reader = new BulkDataClient(host.baseUrl()).authorize(clients, "analytics", "system/*.read");

        for (int p = 0; p < 3; p++) {
            Patient patient = create(new Patient().addName(new HumanName().setFamily("Family" + p)));
            patients.add(patient.getIdElement().getIdPart());
            for (int o = 0; o < 2; o++) {
                create(new Observation().setStatus(Observation.ObservationStatus.FINAL)
                        .setValue(new Quantity(p * 10 + o)).setSubject(new Reference("Patient/" + patients.get(p))));
            }
        }
        create(new Observation().setStatus(Observation.ObservationStatus.FINAL).setValue(new Quantity(99)));
        Group group = new Group().setType(Group.GroupType.PERSON).setActual(true);
        group.addMember().setEntity(new Reference("Patient/" + patients.get(0)));
        group.addMember().setEntity(new Reference("Patient/" + patients.get(2)));
        groupId = create(group).getIdElement().getIdPart();

        HttpResponse<String> binary = writer.send("POST", "/Binary", "application/pdf", PDF);
        assertEquals(201, binary.statusCode(), binary.body());
        binaryPath = "/Binary/" + binary.headers().firstValue("Location").orElseThrow().split("/Binary/")[1].split("/")[0];
    }

    /** POSTs through the JPA server's REST API; returns the resource as the server stored it. */
    private static <T extends Resource> T create(T resource) throws Exception {
        HttpResponse<String> created = writer.send("POST", "/" + resource.fhirType(), "application/fhir+json",
                context.newJsonParser().encodeResourceToString(resource).getBytes(StandardCharsets.UTF_8));
        assertEquals(201, created.statusCode(), created.body());
        @SuppressWarnings("unchecked")
        T stored = (T) context.newJsonParser().parseResource(resource.getClass(), created.body());
        written.put(stored.fhirType() + "/" + stored.getIdElement().getIdPart(), stored);
        return stored;
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (host != null) host.close();
        } finally {
            if (plugin != null) plugin.close();
            if (audit != null) audit.close();
        }
    }

    /** How many Organizations the JPA server holds (no other test writes or exports them). */
    private static int organizations() throws Exception {
        // no-cache: HAPI JPA would otherwise answer a repeated search from its cache of results.
        HttpResponse<byte[]> count = writer.get("/Organization?_summary=count", "Accept", "application/fhir+json",
                "Cache-Control", "no-cache");
        assertEquals(200, count.statusCode(), writer.text(count));
        return context.newJsonParser().parseResource(org.hl7.fhir.r4.model.Bundle.class, writer.text(count)).getTotal();
    }

    @Test
    void writesAreDecidedBeforeTheStoreIsTouched() throws Exception {
        BulkDataClient creator = new BulkDataClient(host.baseUrl())
                .authorize(dataDir.resolve("clients.json"), "creator", "system/Organization.c");
        byte[] body = "{\"resourceType\":\"Organization\",\"name\":\"Clinic\"}".getBytes(StandardCharsets.UTF_8);
        int before = organizations();
        // A conditional create searches first: without search scope, refused before anything is written.
        HttpResponse<String> conditional = creator.send("POST", "/Organization", "application/fhir+json", body,
                "If-None-Exist", "name=Clinic");
        assertEquals(403, conditional.statusCode(), conditional.body());
        assertTrue(conditional.body().contains("system/Organization.s"), conditional.body());
        assertEquals(before, organizations());
        // A plain create is allowed: 201 and Location, with an OperationOutcome instead of a copy it may not read.
        HttpResponse<String> created = creator.send("POST", "/Organization", "application/fhir+json", body);
        assertEquals(201, created.statusCode(), created.body());
        assertTrue(created.headers().firstValue("Location").orElse("").startsWith(host.baseUrl() + "/Organization/"));
        assertTrue(created.body().contains("\"OperationOutcome\"") && !created.body().contains("Clinic"),
                created.body());
        assertEquals(before + 1, organizations());
    }

    @Test
    void withoutATokenNothingIsServed() throws Exception {
        BulkDataClient anonymous = new BulkDataClient(host.baseUrl());
        for (String path : List.of("/Patient", "/$export", binaryPath, binaryPath + "/$binary-access-read")) {
            HttpResponse<byte[]> answer = anonymous.get(path, "Accept", "application/fhir+json", "Prefer", "respond-async");
            assertEquals(401, answer.statusCode(), path);
            assertTrue(anonymous.text(answer).contains("OperationOutcome"), path);
        }
    }

    @Test
    void systemExportMatchesWhatWasWrittenLineByLine() throws Exception {
        JsonNode manifest = reader.awaitManifest(reader.kickoff("/$export?_type=Patient,Observation,Group"));
        Set<String> exported = new HashSet<>();
        for (JsonNode file : manifest.get("output")) {
            String url = file.get("url").asText();
            HttpResponse<byte[]> content = reader.get(url);
            assertEquals(200, content.statusCode(), reader.text(content));
            assertEquals("application/fhir+ndjson", content.headers().firstValue("Content-Type").orElseThrow());
            for (String operation : List.of("/$binary-access-read", "/$export-download")) {
                assertArrayEquals(content.body(), reader.get(url + operation).body(), operation);
            }
            String[] lines = reader.text(content).split("\n");
            assertEquals(file.get("count").asInt(), lines.length);
            for (String line : lines) {
                Resource resource = (Resource) context.newJsonParser().parseResource(line);
                String key = resource.fhirType() + "/" + resource.getIdElement().getIdPart();
                Resource original = written.get(key);
                assertTrue(original != null, "exported but never written: " + key);
                assertEquals(original.getMeta().getVersionId(), resource.getMeta().getVersionId(), key);
                assertTrue(original.copy().setMeta(null).equalsDeep(resource.copy().setMeta(null)), key + ": " + line);
                assertTrue(exported.add(key), "exported twice: " + key);
            }
        }
        assertEquals(written.keySet(), exported);
    }

    @Test
    void groupExportHoldsExactlyItsMembersData() throws Exception {
        JsonNode manifest = reader.awaitManifest(reader.kickoff("/Group/" + groupId + "/$export?_type=Patient,Observation"));
        Set<String> subjects = new HashSet<>();
        for (JsonNode file : manifest.get("output")) {
            for (String line : reader.text(reader.get(file.get("url").asText())).split("\n")) {
                IBaseResource resource = context.newJsonParser().parseResource(line);
                subjects.add(resource instanceof Observation observation
                        ? observation.getSubject().getReferenceElement().getIdPart() : resource.getIdElement().getIdPart());
            }
        }
        assertEquals(Set.of(patients.get(0), patients.get(2)), subjects);
    }

    @Test
    void binaryReadsLandInTheHostsAuditEvents() throws Exception {
        assertEquals(200, reader.get(binaryPath).statusCode());
        BulkDataClient auditor = new BulkDataClient(host.baseUrl())
                .authorize(dataDir.resolve("clients.json"), "auditor", "system/AuditEvent.rs");
        List<AuditEvent> reads = List.of();
        for (int i = 0; i < 100 && reads.isEmpty(); i++) {
            Thread.sleep(100);
            HttpResponse<byte[]> search = auditor.get("/AuditEvent?entity=" + binaryPath.substring(1),
                    "Accept", "application/fhir+json", "Cache-Control", "no-cache");
            assertEquals(200, search.statusCode(), auditor.text(search));
            reads = context.newJsonParser().parseResource(org.hl7.fhir.r4.model.Bundle.class, auditor.text(search))
                    .getEntry().stream().map(entry -> (AuditEvent) entry.getResource())
                    .filter(event -> "analytics".equals(event.getAgentFirstRep().getWho().getIdentifier().getValue()))
                    .toList();
        }
        assertTrue(!reads.isEmpty(), "the read is in the host's AuditEvents");
        assertEquals("rest", reads.get(0).getType().getCode());
        assertEquals(AuditEvent.AuditEventAction.R, reads.get(0).getAction());
        // The reader's * scope does not reach the audit trail.
        assertEquals(403, reader.get("/AuditEvent", "Accept", "application/fhir+json").statusCode());
    }

    @Test
    void theHostsBinariesAreReadNativeOrWrapped() throws Exception {
        HttpResponse<byte[]> nativeRead = reader.get(binaryPath);
        assertEquals(200, nativeRead.statusCode(), reader.text(nativeRead));
        assertEquals("application/pdf", nativeRead.headers().firstValue("Content-Type").orElseThrow());
        assertArrayEquals(PDF, nativeRead.body());
        for (String operation : List.of("/$binary-access-read", "/$export-download")) {
            HttpResponse<byte[]> download = reader.get(binaryPath + operation);
            assertEquals(200, download.statusCode(), operation);
            assertArrayEquals(PDF, download.body(), operation);
        }
        HttpResponse<byte[]> range = reader.get(binaryPath, "Range", "bytes=0-7");
        assertEquals(206, range.statusCode());
        assertArrayEquals(Arrays.copyOf(PDF, 8), range.body());

        for (String[] wrapped : List.of(new String[] {binaryPath + "?_format=json"},
                new String[] {binaryPath, "Accept", "application/fhir+json"},
                new String[] {binaryPath + "?_format=json", "Accept", "application/pdf"})) { // _format wins
            HttpResponse<byte[]> read = reader.get(wrapped[0], Arrays.copyOfRange(wrapped, 1, wrapped.length));
            assertEquals(200, read.statusCode(), String.join(" ", wrapped));
            Binary binary = context.newJsonParser().parseResource(Binary.class, reader.text(read));
            assertArrayEquals(PDF, binary.getContent(), String.join(" ", wrapped));
        }
    }
}
