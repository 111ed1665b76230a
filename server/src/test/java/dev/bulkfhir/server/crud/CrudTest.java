package dev.bulkfhir.server.crud;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Enumerations;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CrudTest {

    @TempDir
    static Path dataDir;

    static StandaloneServer server;
    static IGenericClient client;
    static final FhirContext context = FhirContext.forR4Cached();
    static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        server = new StandaloneServer(ServerSettings.defaults(dataDir)).start();
        context.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.NEVER);
        client = context.newRestfulGenericClient(server.baseUrl());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    static Patient patient(String family) {
        Patient patient = new Patient();
        patient.addName().setFamily(family).addGiven("Ann");
        patient.setGender(Enumerations.AdministrativeGender.FEMALE);
        return patient;
    }

    static Observation observation(String patientId, String code) {
        Observation observation = new Observation();
        observation.setStatus(Observation.ObservationStatus.FINAL);
        observation.getCode().addCoding().setSystem("http://loinc.org").setCode(code);
        observation.getSubject().setReference("Patient/" + patientId);
        return observation;
    }

    HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void createReadUpdateVreadDeleteHistory() {
        MethodOutcome created = client.create().resource(patient("Lovelace")).execute();
        assertTrue(created.getCreated());
        IdType id = (IdType) created.getId();
        assertEquals("1", id.getVersionIdPart());

        Patient read = client.read().resource(Patient.class).withId(id.getIdPart()).execute();
        assertEquals("Lovelace", read.getNameFirstRep().getFamily());
        assertEquals("1", read.getMeta().getVersionId());
        assertNotNull(read.getMeta().getLastUpdated());

        read.getNameFirstRep().setFamily("Byron");
        MethodOutcome updated = client.update().resource(read).execute();
        assertEquals("2", updated.getId().getVersionIdPart());

        Patient v1 = client.read().resource(Patient.class).withId(new IdType("Patient", id.getIdPart(), "1")).execute();
        assertEquals("Lovelace", v1.getNameFirstRep().getFamily());
        Patient v2 = client.read().resource(Patient.class).withId(id.getIdPart()).execute();
        assertEquals("Byron", v2.getNameFirstRep().getFamily());

        client.delete().resourceById("Patient", id.getIdPart()).execute();
        assertThrows(ResourceGoneException.class,
                () -> client.read().resource(Patient.class).withId(id.getIdPart()).execute());

        Bundle history = client.history().onInstance(new IdType("Patient", id.getIdPart()))
                .returnBundle(Bundle.class).execute();
        assertEquals(3, history.getEntry().size());
        assertEquals(Bundle.HTTPVerb.DELETE, history.getEntry().get(0).getRequest().getMethod());
    }

    @Test
    void updateCreatesWhenAbsentAndServerOwnsMeta() {
        Observation observation = observation("nobody", "1234-5");
        observation.setId("obs-put-1");
        observation.getMeta().setVersionId("99");
        MethodOutcome outcome = client.update().resource(observation).execute();
        assertTrue(outcome.getCreated());
        Observation read = client.read().resource(Observation.class).withId("obs-put-1").execute();
        assertEquals("1", read.getMeta().getVersionId());
    }

    @Test
    void readOfUnknownIsNotFound() throws Exception {
        assertThrows(ResourceNotFoundException.class,
                () -> client.read().resource(Patient.class).withId("does-not-exist").execute());
        HttpResponse<String> response = get("/Patient/does-not-exist");
        assertEquals(404, response.statusCode());
        assertTrue(response.body().contains("OperationOutcome"));
    }

    @Test
    void searchByIdLastUpdatedPatientAndSubject() throws Exception {
        String alice = client.create().resource(patient("Search-Alice")).execute().getId().getIdPart();
        String bob = client.create().resource(patient("Search-Bob")).execute().getId().getIdPart();
        client.create().resource(observation(alice, "8867-4")).execute();
        client.create().resource(observation(alice, "8310-5")).execute();
        client.create().resource(observation(bob, "8867-4")).execute();

        Bundle byId = client.search().forResource(Patient.class)
                .where(Patient.RES_ID.exactly().codes(alice, bob)).returnBundle(Bundle.class).execute();
        assertEquals(2, byId.getEntry().size());

        Bundle byPatient = client.search().forResource(Observation.class)
                .where(Observation.PATIENT.hasId("Patient/" + alice)).returnBundle(Bundle.class).execute();
        assertEquals(2, byPatient.getEntry().size());
        Bundle bySubject = client.search().forResource(Observation.class)
                .where(Observation.SUBJECT.hasId("Patient/" + bob)).returnBundle(Bundle.class).execute();
        assertEquals(1, bySubject.getEntry().size());
        Bundle bareId = client.search().forResource(Observation.class)
                .where(Observation.PATIENT.hasId(bob)).returnBundle(Bundle.class).execute();
        assertEquals(1, bareId.getEntry().size());

        Bundle future = client.search().forResource(Patient.class)
                .where(Patient.RES_ID.exactly().code(alice))
                .lastUpdated(new ca.uhn.fhir.rest.param.DateRangeParam().setLowerBound("gt2999-01-01"))
                .returnBundle(Bundle.class).execute();
        assertEquals(0, future.getEntry().size());
        Bundle past = client.search().forResource(Patient.class)
                .where(Patient.RES_ID.exactly().code(alice))
                .lastUpdated(new ca.uhn.fhir.rest.param.DateRangeParam().setLowerBound("ge2000-01-01"))
                .returnBundle(Bundle.class).execute();
        assertEquals(1, past.getEntry().size());
        assertEquals(1, get("/Patient?_id=" + alice + "&_lastUpdated=lt2999-01-01").body().split("\"fullUrl\"").length - 1);
        assertEquals(0, get("/Patient?_id=" + alice + "&_lastUpdated=le2000-01-01").body().split("\"fullUrl\"").length - 1);
    }

    @Test
    void searchParameterTheTypeDoesNotHaveIsRefused() throws Exception {
        HttpResponse<String> response = get("/Organization?subject=Patient/1");
        assertEquals(400, response.statusCode());
        assertTrue(response.body().contains("has no search parameter 'subject'"), response.body());
        HttpResponse<String> unknown = get("/Patient?shoe-size=12");
        assertEquals(400, unknown.statusCode());
        assertTrue(unknown.body().contains("OperationOutcome"));
    }

    @Test
    void pagingLinksStayValidWhileDataChanges() {
        String owner = client.create().resource(patient("Paging")).execute().getId().getIdPart();
        for (int i = 0; i < 7; i++) {
            client.create().resource(observation(owner, "code-" + i)).execute();
        }
        Bundle page = client.search().forResource(Observation.class)
                .where(Observation.PATIENT.hasId(owner)).count(3).returnBundle(Bundle.class).execute();
        Set<String> seen = new HashSet<>();
        List<Bundle> pages = new ArrayList<>();
        while (true) {
            pages.add(page);
            page.getEntry().forEach(e -> assertTrue(seen.add(e.getResource().getIdElement().getIdPart())));
            if (pages.size() == 1) {
                // Data changes between pages: a new resource shows up at the end, nothing shifts.
                client.create().resource(observation(owner, "late")).execute();
            }
            if (page.getLink(Bundle.LINK_NEXT) == null) break;
            page = client.loadPage().next(page).execute();
        }
        assertEquals(8, seen.size());
        assertEquals(3, pages.size());
        Bundle previous = client.loadPage().previous(pages.get(2)).execute();
        assertEquals(ids(pages.get(1)), ids(previous));
    }

    @Test
    void aWholeTypePagesForwardAndBackInCreationOrder() {
        List<String> created = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            created.add(client.create().resource(new org.hl7.fhir.r4.model.Practitioner()
                    .addName(new org.hl7.fhir.r4.model.HumanName().setFamily("Walk" + i))).execute().getId().getIdPart());
        }
        List<Bundle> pages = new ArrayList<>();
        Bundle page = client.search().forResource(org.hl7.fhir.r4.model.Practitioner.class).count(2)
                .returnBundle(Bundle.class).execute();
        List<String> walked = new ArrayList<>();
        while (true) {
            pages.add(page);
            walked.addAll(ids(page));
            if (page.getLink(Bundle.LINK_NEXT) == null) break;
            page = client.loadPage().next(page).execute();
        }
        assertEquals(walked.size(), new HashSet<>(walked).size(), walked.toString());
        assertEquals(created, walked.subList(walked.size() - created.size(), walked.size()));
        for (int i = pages.size() - 1; i > 0; i--) {
            assertEquals(ids(pages.get(i - 1)), ids(client.loadPage().previous(pages.get(i)).execute()));
        }
    }

    @Test
    void lastUpdatedRangesWideAndNarrowFindExactlyTheirResources() throws Exception {
        // Over 5,000 rows in a range, the store walks the type and filters; below, it reads the range.
        Bundle first = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        for (int i = 0; i < 5_100; i++) {
            first.addEntry().setResource(new org.hl7.fhir.r4.model.Location().setName("early-" + i))
                    .getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl("Location");
        }
        client.transaction().withBundle(first).execute();
        Thread.sleep(5);
        String between = new org.hl7.fhir.r4.model.InstantType(new java.util.Date()).getValueAsString();
        Thread.sleep(5);
        List<String> late = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            late.add(client.create().resource(new org.hl7.fhir.r4.model.Location().setName("late-" + i)).execute()
                    .getId().getIdPart());
        }
        List<String> all = walkNames("Location?_lastUpdated=ge2000-01-01&_count=1000");
        assertEquals(5_103, all.size());
        assertEquals(5_103, new HashSet<>(all).size());
        assertEquals(List.of("early-0", "late-2"), List.of(all.get(0), all.get(all.size() - 1)));
        List<String> early = walkNames("Location?_lastUpdated=lt" + java.net.URLEncoder.encode(between,
                java.nio.charset.StandardCharsets.UTF_8) + "&_count=1000");
        assertEquals(5_100, early.size());
        assertTrue(early.stream().allMatch(name -> name.startsWith("early-")));
        assertEquals(List.of("late-0", "late-1", "late-2"), walkNames("Location?_lastUpdated=ge"
                + java.net.URLEncoder.encode(between, java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** The names of every Location a search finds, following its next links. */
    private List<String> walkNames(String search) {
        List<String> names = new ArrayList<>();
        Bundle page = client.search().byUrl(search).returnBundle(Bundle.class).execute();
        while (true) {
            page.getEntry().forEach(e -> names.add(((org.hl7.fhir.r4.model.Location) e.getResource()).getName()));
            if (page.getLink(Bundle.LINK_NEXT) == null) return names;
            page = client.loadPage().next(page).execute();
        }
    }

    private static List<String> ids(Bundle bundle) {
        return bundle.getEntry().stream().map(e -> e.getResource().getIdElement().getIdPart()).toList();
    }

    @Test
    void transactionResolvesPlaceholdersAndIsAtomic() {
        Bundle transaction = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        Observation observation = observation("x", "8867-4");
        observation.getSubject().setReference("urn:uuid:11111111-2222-3333-4444-555555555555");
        transaction.addEntry().setFullUrl("urn:uuid:99999999-2222-3333-4444-555555555555").setResource(observation)
                .getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl("Observation");
        transaction.addEntry().setFullUrl("urn:uuid:11111111-2222-3333-4444-555555555555")
                .setResource(patient("Transaction"))
                .getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl("Patient");
        Bundle response = client.transaction().withBundle(transaction).execute();
        assertEquals(Bundle.BundleType.TRANSACTIONRESPONSE, response.getType());
        String observationId = new IdType(response.getEntry().get(0).getResponse().getLocation()).getIdPart();
        String patientId = new IdType(response.getEntry().get(1).getResponse().getLocation()).getIdPart();
        assertTrue(response.getEntry().get(0).getResponse().getStatus().startsWith("201"));
        Observation stored = client.read().resource(Observation.class).withId(observationId).execute();
        assertEquals("Patient/" + patientId, stored.getSubject().getReference());

        Bundle failing = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        Patient kept = patient("MustNotExist");
        kept.setId("atomic-1");
        failing.addEntry().setResource(kept).getRequest().setMethod(Bundle.HTTPVerb.PUT).setUrl("Patient/atomic-1");
        Patient bad = patient("Bad");
        failing.addEntry().setResource(bad).getRequest().setMethod(Bundle.HTTPVerb.PUT).setUrl("Patient/bad id!");
        var error = assertThrows(ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException.class,
                () -> client.transaction().withBundle(failing).execute());
        assertEquals(400, error.getStatusCode());
        assertThrows(ResourceNotFoundException.class,
                () -> client.read().resource(Patient.class).withId("atomic-1").execute());
    }

    @Test
    void batchRunsEntriesIndependently() {
        Bundle batch = new Bundle().setType(Bundle.BundleType.BATCH);
        Patient good = patient("BatchGood");
        good.setId("batch-good");
        batch.addEntry().setResource(good).getRequest().setMethod(Bundle.HTTPVerb.PUT).setUrl("Patient/batch-good");
        batch.addEntry().getRequest().setMethod(Bundle.HTTPVerb.GET).setUrl("Patient/never-there");
        Bundle response = client.transaction().withBundle(batch).execute();
        assertEquals(Bundle.BundleType.BATCHRESPONSE, response.getType());
        assertTrue(response.getEntry().get(0).getResponse().getStatus().startsWith("201"));
        assertTrue(response.getEntry().get(1).getResponse().getStatus().startsWith("404"));
        assertEquals("BatchGood", client.read().resource(Patient.class).withId("batch-good").execute()
                .getNameFirstRep().getFamily());
    }

    @Test
    void malformedJsonIsBadRequestWithOutcome() throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/Patient"))
                .header("Content-Type", "application/fhir+json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"resourceType\": \"Patient\", \"name\": [ {")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(400, response.statusCode());
        assertTrue(response.body().contains("OperationOutcome"), response.body());
    }

    @Test
    void unknownResourceTypeIsNotFoundWithOutcome() throws Exception {
        HttpResponse<String> response = get("/Spaceship/1");
        assertEquals(404, response.statusCode());
        assertTrue(response.body().contains("OperationOutcome"), response.body());
        assertTrue(response.body().contains("Spaceship"), response.body());
    }

    @Test
    void urlsJettyRefusesAnswerWithAnOutcomeToo() throws Exception {
        String root = server.baseUrl().substring(0, server.baseUrl().length() - "/fhir".length());
        for (String[] request : new String[][] {{"/fhir/Patient/%00", "400"}, {"/fhir/Patient/a%2Fb", "400"},
                {"/not-fhir", "404"}}) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(root + request[0])).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(Integer.parseInt(request[1]), response.statusCode(), request[0]);
            assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/fhir+json"));
            assertTrue(response.body().contains("\"resourceType\":\"OperationOutcome\""), response.body());
        }
    }

    @Test
    void capabilityStatementDeclaresWhatWorks() {
        CapabilityStatement capability = client.capabilities().ofType(CapabilityStatement.class).execute();
        var rest = capability.getRestFirstRep();
        var observation = rest.getResource().stream().filter(r -> r.getType().equals("Observation")).findFirst().orElseThrow();
        Set<String> params = new HashSet<>();
        observation.getSearchParam().forEach(p -> params.add(p.getName()));
        assertTrue(params.containsAll(Set.of("_id", "_lastUpdated", "patient", "subject")), params.toString());
        var organization = rest.getResource().stream().filter(r -> r.getType().equals("Organization")).findFirst().orElseThrow();
        assertFalse(organization.getSearchParam().stream().anyMatch(p -> p.getName().equals("patient")));
        assertTrue(rest.getInteraction().stream().anyMatch(i -> i.getCode().toCode().equals("transaction")));
    }
}
