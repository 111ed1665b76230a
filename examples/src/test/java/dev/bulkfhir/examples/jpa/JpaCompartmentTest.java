package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import dev.bulkfhir.storage.resource.PatientCompartment;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.jpa.JpaResourceSource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Encounter;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Reference;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import javax.sql.DataSource;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Patient and Group exports from a HAPI JPA host select the patients' compartments through HAPI's own
 * reference index, not by reading every resource: after the data is written, the stored text of every
 * resource outside the exported compartments is overwritten with text that is not JSON, and the
 * exports still give exactly the compartments (checked against FHIR's compartment definition applied
 * to each resource as written), each resource once. On H2 here; on PostgreSQL in
 * {@link JpaCompartmentPostgresTest}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JpaCompartmentTest {

    /** Enough that half of them are more than the source looks up at once (200): a compartment spans two lookups. */
    private static final int PATIENTS = 520;
    private static final List<String> TYPES = List.of("Patient", "Observation", "Encounter", "Group");

    private static final Set<String> members = Set.of("p1", "p2", "p3", "ghost");

    private JpaHost host;
    private JpaResourceSource source;
    private PatientCompartment compartment;
    /** Every resource written, "Type/id" to its patients' compartments. */
    private final Map<String, Set<String>> compartments = new HashMap<>();
    private final Set<String> many = new HashSet<>();
    private Instant asOf;

    /** The HAPI JPA host, not started. */
    JpaHost newHost() {
        return JpaHost.inMemory();
    }

    @BeforeAll
    void startAndWrite() throws Exception {
        host = newHost().start();
        source = JpaResourceSource.of(host.spring()).withWriteGrace(Duration.ZERO);
        compartment = new PatientCompartment(host.fhirContext());

        Bundle bundle = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        for (int p = 0; p < PATIENTS; p++) {
            Patient patient = new Patient();
            patient.setId("p" + p);
            patient.addName().setFamily("Family" + p);
            put(bundle, patient);
            put(bundle, observation("o" + p, "p" + p, null));
            Encounter encounter = new Encounter().setStatus(Encounter.EncounterStatus.FINISHED)
                    .setSubject(new Reference("Patient/p" + p));
            encounter.setId("e" + p);
            put(bundle, encounter);
        }
        put(bundle, observation("cross", "p1", "p" + (PATIENTS - 2))); // in two compartments, in two lookups
        put(bundle, observation("performed", "p200", "p2")); // a member's only as performer
        put(bundle, observation("nobody", null, null));
        Patient linked = new Patient();
        linked.setId("linked");
        linked.addLink().setOther(new Reference("Patient/p3")).setType(Patient.LinkType.SEEALSO);
        put(bundle, linked);
        Group group = new Group().setType(Group.GroupType.PERSON).setActual(true);
        group.setId("g");
        for (String member : List.of("p1", "p2", "p3")) group.addMember().setEntity(new Reference("Patient/" + member));
        put(bundle, group);
        host.daos().getSystemDao().transaction(new SystemRequestDetails(), bundle);
        IntStream.range(0, PATIENTS).filter(p -> p % 2 == 0).forEach(p -> many.add("p" + p));
        many.add("p1");
        Thread.sleep(5);
        asOf = Instant.now();

        for (String type : TYPES) {
            List<? extends IBaseResource> all = host.daos().getResourceDao(type)
                    .searchForResources(new ca.uhn.fhir.jpa.searchparam.SearchParameterMap().setLoadSynchronous(true),
                            new SystemRequestDetails());
            for (IBaseResource resource : all) {
                compartments.put(type + "/" + resource.getIdElement().getIdPart(), compartment.patientIds(resource));
            }
        }
        assertEquals(3 * PATIENTS + 3 + 1 + 1, compartments.size());
        makeUnreadableAllBut(union(members, many));
    }

    @AfterAll
    void stop() throws Exception {
        if (host != null) host.close();
    }

    @Test
    void aGroupsCompartmentIsExactlyItsMembersData() throws Exception {
        for (String type : TYPES) {
            assertEquals(expected(type, members), exported(type, members), type);
        }
        assertTrue(exported("Observation", members).containsAll(Set.of("Observation/cross", "Observation/performed")));
        assertTrue(exported("Patient", members).contains("Patient/linked"), "Patient.link is in the compartment");
    }

    @Test
    void aCompartmentOfManyPatientsHasEachResourceOnce() throws Exception {
        for (String type : TYPES) {
            assertEquals(expected(type, many), exported(type, many), type);
        }
        assertEquals(PATIENTS / 2 + 1 + 2, exported("Observation", many).size(), "cross once, though in both lookups");
    }

    @Test
    void sinceNarrowsTheCompartment() throws Exception {
        assertEquals(Set.of(), exported(new ExportQuery("Observation", asOf.minusMillis(1), asOf, true, members)));
        assertEquals(expected("Observation", members),
                exported(new ExportQuery("Observation", asOf.minusSeconds(3600), asOf, true, members)));
    }

    /**
     * A system export with {@code _typeFilter} reads only what HAPI's search finds: were the type read whole,
     * the unreadable text of resources outside the members' compartments would fail the export.
     */
    @Test
    void typeFiltersAreSearchedByHapi() throws Exception {
        ExportQuery observations = ExportQuery.all("Observation", null, asOf);
        assertEquals(Set.of("Observation/o1", "Observation/cross"),
                exported(observations.withTypeFilters(List.of("Observation?subject=Patient/p1"))));
        assertEquals(Set.of("Observation/o1", "Observation/cross", "Observation/performed"),
                exported(observations.withTypeFilters(List.of("Observation?subject=Patient/p1",
                        "Observation?performer=Patient/p2&status=final"))));
        assertEquals(Set.of(), exported(observations.withTypeFilters(List.of("Observation?subject=Patient/p1&status=amended"))));
        assertEquals(Set.of("Patient/p2"), exported(new ExportQuery("Patient", asOf.minusSeconds(3600), asOf, true, null)
                .withTypeFilters(List.of("Patient?_id=p2"))));
    }

    @Test
    void nobodysCompartmentIsEmpty() throws Exception {
        assertEquals(Set.of(), exported("Observation", Set.of("ghost", "no-such-patient")));
    }

    private Set<String> expected(String type, Set<String> patients) {
        Set<String> expected = new TreeSet<>();
        compartments.forEach((key, owners) -> {
            if (key.startsWith(type + "/") && !Collections.disjoint(owners, patients)) expected.add(key);
        });
        return expected;
    }

    private Set<String> exported(String type, Set<String> patients) throws Exception {
        return exported(new ExportQuery(type, null, asOf, true, patients));
    }

    private Set<String> exported(ExportQuery query) throws Exception {
        Set<String> keys = new TreeSet<>();
        List<String> errors = new ArrayList<>();
        source.stream(query, new ResourceSink() {
            @Override
            public void resource(byte[] json) {
                Resource resource = (Resource) host.fhirContext().newJsonParser()
                        .parseResource(new String(json, StandardCharsets.UTF_8));
                assertTrue(keys.add(resource.fhirType() + "/" + resource.getIdElement().getIdPart()), "twice: " + resource.getId());
            }

            @Override
            public void error(String reference, String message) {
                errors.add(reference + ": " + message);
            }
        });
        assertEquals(List.of(), errors);
        return keys;
    }

    /** Overwrites the stored text of every resource outside these patients' compartments with non-JSON. */
    private void makeUnreadableAllBut(Set<String> patients) throws Exception {
        int overwritten = 0;
        try (Connection connection = host.spring().getBean(DataSource.class).getConnection();
             PreparedStatement update = connection.prepareStatement("update HFJ_RES_VER set RES_TEXT_VC = 'not JSON',"
                     + " RES_TEXT = null, RES_ENCODING = 'JSON' where RES_TYPE = ? and RES_ID ="
                     + " (select RES_ID from HFJ_RESOURCE where RES_TYPE = ? and FHIR_ID = ?)")) {
            for (Map.Entry<String, Set<String>> entry : compartments.entrySet()) {
                if (!Collections.disjoint(entry.getValue(), patients)) continue;
                String[] key = entry.getKey().split("/");
                update.setString(1, key[0]);
                update.setString(2, key[0]);
                update.setString(3, key[1]);
                overwritten += update.executeUpdate();
            }
        }
        assertTrue(overwritten > PATIENTS, "overwritten: " + overwritten);
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> union = new HashSet<>(a);
        union.addAll(b);
        return union;
    }

    private static void put(Bundle bundle, Resource resource) {
        bundle.addEntry().setResource(resource).getRequest().setMethod(Bundle.HTTPVerb.PUT)
                .setUrl(resource.fhirType() + "/" + resource.getIdElement().getIdPart());
    }

    private static Observation observation(String id, String subject, String performer) {
        Observation observation = new Observation().setStatus(Observation.ObservationStatus.FINAL);
        observation.setId(id);
        observation.getCode().setText("heart rate");
        if (subject != null) observation.setSubject(new Reference("Patient/" + subject));
        if (performer != null) observation.addPerformer(new Reference("Patient/" + performer));
        return observation;
    }
}
