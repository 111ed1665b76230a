package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.demo.DemoData;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.Observation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static dev.bulkfhir.server.export.BulkClient.CONTEXT;
import static dev.bulkfhir.server.export.BulkClient.outcome;
import static dev.bulkfhir.server.export.BulkClient.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The parameters and manifest fields of the Bulk Data Access IG 3.0.0 (STU3) over HTTP, on the
 * standalone server with a small demo population: {@code _until}, {@code _typeFilter} ORed on every
 * level, {@code deleted}, {@code includeAssociatedData}, the CapabilityStatement.
 */
class ExportStu3Test {

    static final int PATIENTS = 9;
    static final long SEED = 11;
    static final List<String> LEVELS = List.of("$export", "Patient/$export", "Group/" + DemoData.GROUP_ID + "/$export");

    @TempDir
    static Path dataDir;
    static StandaloneServer server;
    static BulkClient client;
    /** A patient in the demo Group, so that every level exports its data. */
    static String member;

    @BeforeAll
    static void start() throws Exception {
        ServerSettings settings = ServerSettings.defaults(dataDir).withExport(ExportSettings.defaults());
        server = new StandaloneServer(settings).start();
        DemoData.populate(server.store(), PATIENTS, SEED);
        Map<String, Group> groups = new TreeMap<>();
        new DemoData(CONTEXT, SEED).generate(PATIENTS, resource -> {
            if (resource instanceof Group group) groups.put(group.getIdElement().getIdPart(), group);
        });
        member = groups.get(DemoData.GROUP_ID).getMemberFirstRep().getEntity().getReferenceElement().getIdPart();
        client = new BulkClient(server.baseUrl());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    static Observation observation(String code) {
        Observation observation = new Observation();
        observation.setStatus(Observation.ObservationStatus.FINAL);
        observation.getCode().addCoding().setSystem("http://loinc.org").setCode(code);
        observation.getSubject().setReference("Patient/" + member);
        return observation;
    }

    /** A moment strictly between writes before and after it (the store stamps in milliseconds). */
    static Instant pause() throws InterruptedException {
        Thread.sleep(5);
        Instant now = Instant.now();
        Thread.sleep(5);
        return now;
    }

    /** The exported resources of one type as "id/version". */
    static List<String> versions(Map<String, List<IBaseResource>> byType, String type) {
        return byType.getOrDefault(type, List.of()).stream()
                .map(r -> r.getIdElement().getIdPart() + "/" + r.getMeta().getVersionId()).sorted().toList();
    }

    @Test
    void untilExportsEachResourceAsItWasThenOnEveryLevel() throws Exception {
        Instant since = pause();
        Observation first = observation("8867-4");
        String a = server.store().create(first).id();
        Instant until = pause();
        first.setId(a);
        first.setStatus(Observation.ObservationStatus.AMENDED);
        server.store().update(first); // version 2, after _until
        String b = server.store().create(observation("8310-5")).id();

        for (String level : LEVELS) {
            JsonNode manifest = client.await(client.start(level + "?_type=Observation&_since=" + since
                    + "&_until=" + until));
            Map<String, List<IBaseResource>> byType = client.download(manifest);
            // a as of _until (version 1), b (created after _until) not at all.
            assertEquals(List.of(a + "/1"), versions(byType, "Observation"), level);
            assertEquals(Observation.ObservationStatus.FINAL,
                    ((Observation) byType.get("Observation").get(0)).getStatus(), level);
        }

        // An _until in the future is the transaction time: everything up to it, in its latest version.
        JsonNode manifest = client.await(client.start("Group/" + DemoData.GROUP_ID
                + "/$export?_type=Observation&_since=" + since + "&_until=2999-01-01T00:00:00Z"));
        assertTrue(Instant.parse(manifest.get("transactionTime").asText()).isBefore(Instant.now().plusSeconds(1)));
        List<String> expected = new java.util.ArrayList<>(List.of(a + "/2", b + "/1"));
        expected.sort(null);
        assertEquals(expected, versions(client.download(manifest), "Observation"));
    }

    @Test
    void untilNotAfterSinceOrNotAnInstantIsRefused() throws Exception {
        Map<String, String> cases = new TreeMap<>();
        cases.put("$export?_since=2024-01-02T00:00:00Z&_until=2024-01-01T00:00:00Z", "must be later than _since");
        cases.put("Patient/$export?_since=2024-01-01T00:00:00Z&_until=2024-01-01T00:00:00Z", "must be later than _since");
        cases.put("$export?_until=yesterday", "_until 'yesterday' is not a FHIR instant");
        cases.put("$export?_until=2024-01-01T00:00:00Z&_until=2024-01-02T00:00:00Z", "_until may be given once");
        for (Map.Entry<String, String> entry : cases.entrySet()) {
            for (boolean lenient : new boolean[] {false, true}) {
                HttpResponse<byte[]> response = lenient
                        ? client.kickoff(entry.getKey(), "Prefer", "respond-async, handling=lenient")
                        : client.kickoff(entry.getKey());
                assertEquals(400, response.statusCode(), entry.getKey() + " -> " + text(response));
                String outcome = outcome(response);
                assertTrue(outcome.contains(entry.getValue()) && outcome.contains("_until"),
                        entry.getKey() + " -> " + outcome);
            }
        }
    }

    /** The ids of one type in an export's files. */
    static java.util.Set<String> idsOf(Map<String, List<IBaseResource>> byType, String type) {
        return new java.util.TreeSet<>(BulkClient.ids(byType, type));
    }

    static Map<String, List<IBaseResource>> export(String kickoff) throws Exception {
        return client.download(client.await(client.start(kickoff)));
    }

    @Test
    void repeatedTypeFiltersAreOredOnEveryLevelWithElements() throws Exception {
        String lab = "_typeFilter=Observation%3Fcategory%3Dlaboratory";
        String vitals = "_typeFilter=Observation%3Fcategory%3Dvital-signs";
        for (String level : LEVELS) {
            java.util.Set<String> labs = idsOf(export(level + "?_type=Observation&" + lab), "Observation");
            java.util.Set<String> signs = idsOf(export(level + "?_type=Observation&" + vitals), "Observation");
            assertTrue(!labs.isEmpty() && !signs.isEmpty(), level);
            java.util.Set<String> union = new java.util.TreeSet<>(labs);
            union.addAll(signs);
            Map<String, List<IBaseResource>> either = export(level + "?_type=Observation,Patient&" + lab + "&" + vitals
                    + "&_elements=Observation.category,Patient.id");
            assertEquals(union, idsOf(either, "Observation"), level);
            for (IBaseResource resource : either.get("Observation")) {
                Observation observation = (Observation) resource;
                assertTrue(observation.hasCategory() && !observation.hasEffective(), level + ": _elements applies");
            }
            assertTrue(!either.get("Patient").isEmpty(), level + ": types without a filter are whole");
        }
    }

    @Test
    void lenientlyIgnoredTypeFiltersAreNamedWithTheirReasonInTheErrorFile() throws Exception {
        int all = export("Patient/$export?_type=Observation").get("Observation").size();
        HttpResponse<byte[]> response = client.kickoff("Patient/$export?_type=Observation"
                + "&_typeFilter=Observation%3Fcategory%3Dlaboratory&_typeFilter=Observation%3Fvalue-string%3Dx",
                "Prefer", "respond-async, handling=lenient");
        assertEquals(202, response.statusCode(), text(response));
        Map<String, List<IBaseResource>> files = client.download(client.await(BulkClient.statusUrl(response)));
        List<String> messages = files.get("OperationOutcome").stream()
                .map(o -> ((org.hl7.fhir.r4.model.OperationOutcome) o).getIssueFirstRep())
                .map(issue -> issue.getSeverity().toCode() + ": " + issue.getDiagnostics()).toList();
        assertEquals(2, messages.size(), messages.toString());
        assertTrue(messages.stream().anyMatch(m -> m.startsWith("warning: _typeFilter 'Observation?value-string=x'")
                && m.contains("value-string")), messages.toString());
        assertTrue(messages.stream().anyMatch(m -> m.startsWith("warning: _typeFilter 'Observation?category=laboratory'"
                + " is not applied either")), messages.toString());
        assertEquals(all, files.get("Observation").size(), "the ignored filters filter nothing");
    }
}
