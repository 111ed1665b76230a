package dev.bulkfhir.server.crud;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Device;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Resource;
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
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Counting through search: {@code _summary=count}, {@code _count=0} and {@code _total}, as a client sees them. */
class SearchTotalTest {

    @TempDir
    static Path dataDir;

    static StandaloneServer server;
    static final FhirContext context = FhirContext.forR4Cached();
    static final HttpClient http = HttpClient.newHttpClient();
    /** Five Devices, one of them deleted: four to count. */
    static final List<String> devices = new ArrayList<>();
    static String alice;
    static String bob;

    @BeforeAll
    static void start() throws Exception {
        server = new StandaloneServer(ServerSettings.defaults(dataDir)).start();
        for (int i = 0; i < 5; i++) {
            devices.add(create(new Device().setManufacturer("Acme " + i)));
        }
        send("DELETE", "/Device/" + devices.get(4));
        alice = create(new Patient().setActive(true));
        bob = create(new Patient().setActive(true));
        for (int i = 0; i < 3; i++) {
            create(observation("subject", alice));
        }
        create(observation("subject", bob));
        // In Alice's compartment, but not hers by the 'patient' parameter (that is Observation.subject).
        create(observation("performer", alice));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void summaryCountAnswersTheTotalAlone() throws Exception {
        Bundle bundle = countOnly("/Device?_summary=count");
        assertEquals(4, bundle.getTotal());
    }

    @Test
    void countZeroIsSummaryCount() throws Exception {
        assertEquals(4, countOnly("/Device?_count=0").getTotal());
        assertEquals(3, countOnly("/Observation?patient=Patient/" + alice + "&_count=0").getTotal());
    }

    @Test
    void summaryCountHonoursTheSearchParameters() throws Exception {
        // 'patient' is tested on each resource of the compartment: the one Alice performed does not count.
        assertEquals(3, countOnly("/Observation?patient=Patient/" + alice + "&_summary=count").getTotal());
        assertEquals(3, countOnly("/Observation?subject=Patient/" + alice + "&_summary=count").getTotal());
        assertEquals(1, countOnly("/Observation?patient=" + bob + "&_summary=count").getTotal());
        assertEquals(0, countOnly("/Observation?patient=Patient/nobody&_summary=count").getTotal());
        assertEquals(2, countOnly("/Device?_id=" + devices.get(0) + "," + devices.get(1) + "," + devices.get(4)
                + "&_summary=count").getTotal());
        assertEquals(0, countOnly("/Device?_id=not_an_id!&_summary=count").getTotal());
        assertEquals(4, countOnly("/Device?_lastUpdated=ge2000-01-01&_summary=count").getTotal());
        assertEquals(0, countOnly("/Device?_lastUpdated=gt2999-01-01&_summary=count").getTotal());
        // Counting wins over _total=none: the count is what the client asked for.
        assertEquals(4, countOnly("/Device?_summary=count&_total=none").getTotal());
        assertEquals(4, countOnly("/Device?_summary=count&_count=2").getTotal());
    }

    @Test
    void aPostedSearchCountsToo() throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(server.baseUrl() + "/Device/_search"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("_summary=count")).build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        Bundle bundle = context.newJsonParser().parseResource(Bundle.class, response.body());
        assertEquals(4, bundle.getTotal());
        assertTrue(bundle.getEntry().isEmpty());
    }

    @Test
    void totalAccurateAndEstimateComeWithTheFirstPage() throws Exception {
        for (String mode : List.of("accurate", "estimate", "estimated")) {
            Bundle first = search("/Device?_total=" + mode + "&_count=3");
            assertTrue(first.hasTotal(), mode);
            assertEquals(4, first.getTotal(), mode);
            assertEquals(3, first.getEntry().size(), mode);
            assertNotNull(first.getLink(Bundle.LINK_NEXT), mode);
            // Paging is unchanged: the next page holds the rest.
            Bundle second = get(first.getLink(Bundle.LINK_NEXT).getUrl());
            assertEquals(1, second.getEntry().size(), mode);
        }
        Bundle whole = search("/Observation?patient=Patient/" + alice + "&_total=accurate");
        assertEquals(3, whole.getTotal());
        assertEquals(3, whole.getEntry().size());
    }

    @Test
    void noTotalUnlessAskedFor() throws Exception {
        for (String path : List.of("/Device", "/Device?_total=none")) {
            Bundle bundle = search(path);
            assertFalse(bundle.hasTotal(), path);
            assertEquals(4, bundle.getEntry().size(), path);
        }
    }

    @Test
    void anUnknownTotalModeIsRefused() throws Exception {
        HttpResponse<String> response = send("GET", "/Device?_total=exact");
        assertEquals(400, response.statusCode());
        assertTrue(response.body().contains("OperationOutcome") && response.body().contains("_total=exact"),
                response.body());
    }

    @Test
    void aCountStillRefusesParametersTheTypeDoesNotHave() throws Exception {
        HttpResponse<String> response = send("GET", "/Device?subject=Patient/" + alice + "&_summary=count");
        assertEquals(400, response.statusCode());
        assertTrue(response.body().contains("OperationOutcome"), response.body());
    }

    /** A count-only answer: a searchset with total, and no entries or links to page through. */
    private static Bundle countOnly(String path) throws Exception {
        HttpResponse<String> response = send("GET", path);
        assertEquals(200, response.statusCode(), response.body());
        assertFalse(response.body().contains("\"entry\""), response.body());
        Bundle bundle = context.newJsonParser().parseResource(Bundle.class, response.body());
        assertEquals(Bundle.BundleType.SEARCHSET, bundle.getType());
        assertTrue(bundle.hasTotal(), response.body());
        assertNull(bundle.getLink(Bundle.LINK_NEXT), response.body());
        return bundle;
    }

    private static Bundle search(String path) throws Exception {
        return get(server.baseUrl() + path);
    }

    private static Bundle get(String url) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        Bundle bundle = context.newJsonParser().parseResource(Bundle.class, response.body());
        assertEquals(Bundle.BundleType.SEARCHSET, bundle.getType());
        return bundle;
    }

    private static Observation observation(String role, String patientId) {
        Observation observation = new Observation();
        observation.setStatus(Observation.ObservationStatus.FINAL);
        observation.getCode().setText("count me");
        if (role.equals("subject")) {
            observation.getSubject().setReference("Patient/" + patientId);
        } else {
            observation.addPerformer().setReference("Patient/" + patientId);
        }
        return observation;
    }

    private static String create(Resource resource) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                        URI.create(server.baseUrl() + "/" + resource.fhirType()))
                .header("Content-Type", "application/fhir+json")
                .POST(HttpRequest.BodyPublishers.ofString(context.newJsonParser().encodeResourceToString(resource)))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, response.statusCode(), response.body());
        return context.newJsonParser().parseResource(response.body()).getIdElement().getIdPart();
    }

    private static HttpResponse<String> send(String method, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }
}
