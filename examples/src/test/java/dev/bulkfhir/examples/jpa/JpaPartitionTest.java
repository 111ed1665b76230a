package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.interceptor.model.RequestPartitionId;
import ca.uhn.fhir.jpa.binary.provider.BinaryAccessProvider;
import ca.uhn.fhir.jpa.entity.PartitionEntity;
import ca.uhn.fhir.jpa.partition.IPartitionLookupSvc;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import ca.uhn.fhir.rest.server.tenant.ITenantIdentificationStrategy;
import ca.uhn.fhir.util.UrlPathTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.examples.BulkDataClient;
import dev.bulkfhir.providers.BulkFhirPlugin;
import dev.bulkfhir.providers.auth.SmartAuth;
import dev.bulkfhir.storage.jpa.JpaBinarySource;
import org.junit.jupiter.api.io.TempDir;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.jpa.JpaResourceSource;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Reference;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A HAPI JPA host with partitioning on, two partitions (P1, P2) and the default one: an export in a
 * partition reads that partition only (system, compartment, _typeFilter, Group members, patients), and one
 * in no partition reads them all. Over HTTP, the plugin exports the partition of the kickoff's tenant.
 */
class JpaPartitionTest {

    @TempDir
    static Path dataDir;
    private static JpaHost host;
    private static BulkFhirPlugin plugin;
    private static BulkDataClient reader;
    private static JpaResourceSource source;
    private static Instant asOf;

    @BeforeAll
    static void startAndWrite() throws Exception {
        Path clients = dataDir.resolve("clients.json");
        host = JpaHost.inMemory().partitioned().customize((server, spring) -> {
            // The tenant is the partition's name, here from a header (HAPI's URL-based strategy works as well).
            server.setTenantIdentificationStrategy(new ITenantIdentificationStrategy() {
                @Override
                public void extractTenant(UrlPathTokenizer path, RequestDetails request) {
                    request.setTenantId(request.getHeader("X-Tenant"));
                }

                @Override
                public String massageServerBaseUrl(String base, RequestDetails request) {
                    return base;
                }

                @Override
                public String resolveRelativeUrl(String url, RequestDetails request) {
                    return url;
                }
            });
            server.unregisterProvider(spring.getBean(BinaryAccessProvider.class));
            plugin = BulkFhirPlugin.builder(server.getFhirContext())
                    .resources(JpaResourceSource.of(spring))
                    .hostBinaries(JpaBinarySource.of(spring))
                    .dataDirectory(dataDir)
                    .auth(SmartAuth.tokens(clients, dataDir.resolve("signing-key.jwk"), Duration.ofMinutes(5)))
                    .start();
            plugin.install(server);
        }).start();
        reader = new BulkDataClient(host.baseUrl()).authorize(clients, "analytics", "system/*.read");
        source = JpaResourceSource.of(host.spring()).withWriteGrace(Duration.ZERO);
        IPartitionLookupSvc partitions = host.spring().getBean(IPartitionLookupSvc.class);
        partitions.createPartition(new PartitionEntity().setId(1).setName("P1"), new SystemRequestDetails());
        partitions.createPartition(new PartitionEntity().setId(2).setName("P2"), new SystemRequestDetails());

        for (String partition : List.of("P1", "P2", "DEFAULT")) {
            String p = partition.toLowerCase();
            write(partition, patient(p + "-a"));
            write(partition, patient(p + "-b"));
            write(partition, observation(p + "-obs-a", p + "-a"));
            write(partition, observation(p + "-obs-b", p + "-b"));
            Group group = new Group().setType(Group.GroupType.PERSON).setActual(true);
            group.setId(p + "-group");
            group.addMember().setEntity(new Reference("Patient/" + p + "-a"));
            write(partition, group);
        }
        Thread.sleep(5);
        asOf = Instant.now();
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (host != null) host.close();
        } finally {
            if (plugin != null) plugin.close();
        }
    }

    @Test
    void aKickoffInAPartitionExportsThatPartition() throws Exception {
        assertEquals(Set.of("Patient/p1-a", "Patient/p1-b", "Observation/p1-obs-a", "Observation/p1-obs-b"),
                exportedOverHttp("/$export?_type=Patient,Observation", "P1"));
        assertEquals(Set.of("Patient/p2-a", "Observation/p2-obs-a"),
                exportedOverHttp("/Group/p2-group/$export?_type=Patient,Observation", "P2"));
        HttpResponse<byte[]> elsewhere = reader.get("/Group/p1-group/$export", "Accept", "application/fhir+json",
                "Prefer", "respond-async", "X-Tenant", "P2");
        assertEquals(404, elsewhere.statusCode(), reader.text(elsewhere));
    }

    private static Set<String> exportedOverHttp(String kickoff, String tenant) throws Exception {
        HttpResponse<byte[]> accepted = reader.get(kickoff, "Accept", "application/fhir+json", "Prefer", "respond-async",
                "X-Tenant", tenant);
        assertEquals(202, accepted.statusCode(), reader.text(accepted));
        JsonNode manifest = reader.awaitManifest(accepted.headers().firstValue("Content-Location").orElseThrow());
        Set<String> keys = new TreeSet<>();
        for (JsonNode file : manifest.get("output")) {
            for (String line : reader.text(reader.get(file.get("url").asText())).split("\n")) {
                Resource resource = (Resource) host.fhirContext().newJsonParser().parseResource(line);
                keys.add(resource.fhirType() + "/" + resource.getIdElement().getIdPart());
            }
        }
        return keys;
    }

    @Test
    void aSystemExportReadsItsPartitionOnly() throws Exception {
        assertEquals(Set.of("p1-a", "p1-b"), exported(ExportQuery.all("Patient", null, asOf).inPartition("P1")));
        assertEquals(Set.of("p2-obs-a", "p2-obs-b"), exported(ExportQuery.all("Observation", null, asOf).inPartition("P2")));
        assertEquals(Set.of("default-a", "default-b"), exported(ExportQuery.all("Patient", null, asOf).inPartition("DEFAULT")));
        assertEquals(6, exported(ExportQuery.all("Observation", null, asOf)).size(), "no partition: all of them");
    }

    @Test
    void compartmentsAndTypeFiltersStayInThePartition() throws Exception {
        assertEquals(Set.of("p1-obs-a", "p1-obs-b"),
                exported(new ExportQuery("Observation", null, asOf, true, null).inPartition("P1")));
        assertEquals(Set.of("p2-obs-a"), exported(new ExportQuery("Observation", null, asOf, true,
                Set.of("p2-a", "p1-a")).inPartition("P2")));
        assertEquals(Set.of(), exported(ExportQuery.all("Observation", null, asOf).inPartition("P2")
                .withTypeFilters(List.of("Observation?subject=Patient/p1-a"))));
        assertEquals(Set.of("p1-obs-a"), exported(ExportQuery.all("Observation", null, asOf).inPartition("P1")
                .withTypeFilters(List.of("Observation?subject=Patient/p1-a"))));
    }

    @Test
    void groupsAndPatientsAreLookedUpInThePartition() {
        assertEquals(Optional.of(Set.of("p1-a")), source.groupMembers("p1-group", asOf, "P1"));
        assertEquals(Optional.empty(), source.groupMembers("p1-group", asOf, "P2"));
        assertEquals(Set.of("p2-a"), source.existingPatients(Set.of("p1-a", "p2-a"), asOf, "P2"));
        assertEquals(Set.of("p1-a", "p2-a"), source.existingPatients(Set.of("p1-a", "p2-a"), asOf, null));
        assertThrows(IllegalArgumentException.class, () -> source.groupMembers("p1-group", asOf, "P3"));
    }

    private static Set<String> exported(ExportQuery query) throws Exception {
        Set<String> ids = new TreeSet<>();
        List<String> errors = new ArrayList<>();
        source.stream(query, new ResourceSink() {
            @Override
            public void resource(byte[] json) {
                Resource resource = (Resource) host.fhirContext().newJsonParser()
                        .parseResource(new String(json, StandardCharsets.UTF_8));
                ids.add(resource.getIdElement().getIdPart());
            }

            @Override
            public void error(String reference, String message) {
                errors.add(reference + ": " + message);
            }
        });
        assertEquals(List.of(), errors);
        return ids;
    }

    private static void write(String partition, Resource resource) {
        SystemRequestDetails request = new SystemRequestDetails();
        request.setRequestPartitionId(RequestPartitionId.fromPartitionName(partition));
        host.daos().getResourceDao(resource.fhirType()).update(resource, request);
    }

    private static Patient patient(String id) {
        Patient patient = new Patient();
        patient.setId(id);
        patient.addName().setFamily(id);
        return patient;
    }

    private static Observation observation(String id, String subject) {
        Observation observation = new Observation().setStatus(Observation.ObservationStatus.FINAL);
        observation.setId(id);
        observation.getCode().setText("heart rate");
        observation.setSubject(new Reference("Patient/" + subject));
        return observation;
    }
}
