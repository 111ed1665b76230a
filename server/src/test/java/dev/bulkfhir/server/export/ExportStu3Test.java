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
    /** A patient in the demo Group, so that every level exports its data; and one outside it. */
    static String member;
    static String outsider;

    @BeforeAll
    static void start() throws Exception {
        ServerSettings settings = ServerSettings.builder(dataDir).export(ExportSettings.defaults()).build();
        server = new StandaloneServer(settings).start();
        DemoData.populate(server.store(), PATIENTS, SEED);
        Map<String, Group> groups = new TreeMap<>();
        new DemoData(CONTEXT, SEED).generate(PATIENTS, resource -> {
            if (resource instanceof Group group) groups.put(group.getIdElement().getIdPart(), group);
        });
        Group group = groups.get(DemoData.GROUP_ID);
        member = group.getMemberFirstRep().getEntity().getReferenceElement().getIdPart();
        for (int i = 0; i < PATIENTS && outsider == null; i++) {
            String id = DemoData.patientId(i);
            if (group.getMember().stream().noneMatch(m -> m.getEntity().getReference().endsWith("/" + id))) outsider = id;
        }
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

    /** The "deleted" files of a manifest, each line checked to be the IG's transaction Bundle of one DELETE. */
    static List<String> deletedUrls(JsonNode manifest) throws Exception {
        List<String> urls = new java.util.ArrayList<>();
        for (JsonNode file : manifest.get("deleted")) {
            assertEquals("Bundle", file.get("type").asText());
            HttpResponse<byte[]> response = client.get(file.get("url").asText());
            assertEquals(200, response.statusCode(), text(response));
            List<IBaseResource> bundles = BulkClient.parseLines(response.body(), "Bundle");
            assertEquals(file.get("count").asLong(), bundles.size());
            for (IBaseResource resource : bundles) {
                org.hl7.fhir.r4.model.Bundle bundle = (org.hl7.fhir.r4.model.Bundle) resource;
                assertEquals(org.hl7.fhir.r4.model.Bundle.BundleType.TRANSACTION, bundle.getType());
                assertTrue(bundle.getMeta().hasLastUpdated());
                assertEquals(1, bundle.getEntry().size());
                assertEquals(org.hl7.fhir.r4.model.Bundle.HTTPVerb.DELETE, bundle.getEntryFirstRep().getRequest().getMethod());
                urls.add(bundle.getEntryFirstRep().getRequest().getUrl());
            }
        }
        return urls.stream().sorted().toList();
    }

    static List<String> sorted(String... values) {
        return java.util.Arrays.stream(values).sorted().toList();
    }

    @Test
    void withSinceTheManifestListsWhatWasDeletedAsTransactionBundlesInScope() throws Exception {
        Observation ofMember = observation("1111-1");
        String x = server.store().create(ofMember).id();
        Observation ofOutsider = observation("2222-2");
        ofOutsider.getSubject().setReference("Patient/" + outsider);
        String y = server.store().create(ofOutsider).id();
        Instant since = pause();
        String w = server.store().create(observation("3333-3")).id();
        server.store().delete("Observation", x);
        server.store().delete("Observation", y);
        Instant until = pause();
        server.store().delete("Observation", w);

        JsonNode system = client.await(client.start("$export?_type=Observation&_since=" + since));
        assertEquals(sorted("Observation/" + w, "Observation/" + x, "Observation/" + y), deletedUrls(system));
        assertTrue(BulkClient.ids(client.download(system), "Observation").isEmpty(), "deleted is not in output");
        // Patient and Group level: only deletions in scope, by the deleted resource's last version.
        JsonNode patients = client.await(client.start("Patient/$export?_type=Observation&_since=" + since));
        assertEquals(sorted("Observation/" + w, "Observation/" + x, "Observation/" + y), deletedUrls(patients));
        JsonNode group = client.await(client.start("Group/" + DemoData.GROUP_ID + "/$export?_type=Observation&_since="
                + since));
        assertEquals(sorted("Observation/" + w, "Observation/" + x), deletedUrls(group));
        // _typeFilter applies to the last version; _until leaves later deletions out (W is then exported).
        JsonNode filtered = client.await(client.start("$export?_type=Observation&_typeFilter=Observation%3Fcode%3D2222-2"
                + "&_since=" + since));
        assertEquals(sorted("Observation/" + y), deletedUrls(filtered));
        JsonNode windowed = client.await(client.start("$export?_type=Observation&_since=" + since + "&_until=" + until));
        assertEquals(sorted("Observation/" + x, "Observation/" + y), deletedUrls(windowed));
        assertEquals(List.of(w), BulkClient.ids(client.download(windowed), "Observation"));
        // Without _since, no deletions are exported and the manifest has no "deleted", as before.
        JsonNode whole = client.await(client.start("$export?_type=Observation"));
        assertTrue(whole.get("deleted") == null, whole.toString());
    }

    @Test
    void filesCarryTheirExpiryAndADeleteAfterCompletionReleasesThem() throws Exception {
        String status = client.start("$export?_type=Patient");
        HttpResponse<byte[]> done = client.poll(status);
        while (done.statusCode() == 202) {
            Thread.sleep(50);
            done = client.poll(status);
        }
        assertEquals(200, done.statusCode(), text(done));
        String expires = done.headers().firstValue("Expires").orElseThrow();
        String url = BulkClient.JSON.readTree(done.body()).get("output").get(0).get("url").asText();
        HttpResponse<byte[]> file = client.get(url);
        assertEquals(200, file.statusCode());
        assertEquals(expires, file.headers().firstValue("Expires").orElse(null), "file without the manifest's Expires");

        HttpResponse<byte[]> delete = client.send("DELETE", status, null);
        assertEquals(202, delete.statusCode(), text(delete));
        for (String gone : List.of(url, url + "/$export-download", status)) {
            HttpResponse<byte[]> after = client.get(gone);
            assertEquals(404, after.statusCode(), gone + " -> " + text(after));
            outcome(after);
        }
    }

    @Test
    void capabilityStatementInstantiatesTheIgVersionAndMarksWhatExportCannotDo() throws Exception {
        HttpResponse<byte[]> response = client.get("metadata", "Accept", "application/fhir+json");
        assertEquals(200, response.statusCode());
        org.hl7.fhir.r4.model.CapabilityStatement capability = CONTEXT.newJsonParser().parseResource(
                org.hl7.fhir.r4.model.CapabilityStatement.class, new String(response.body(), java.nio.charset.StandardCharsets.UTF_8));
        List<String> instantiates = capability.getInstantiates().stream().map(c -> c.getValue()).toList();
        assertTrue(instantiates.contains("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data|3.0.0")
                && instantiates.contains("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"), instantiates.toString());
        String notSupported = "http://hl7.org/fhir/uv/bulkdata/Extension/operation-not-supported";
        var organization = capability.getRestFirstRep().getResource().stream()
                .filter(r -> r.getType().equals("Organization")).findFirst().orElseThrow();
        assertEquals(List.of("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
                "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"),
                organization.getExtensionsByUrl(notSupported).stream().map(e -> e.getValue().primitiveValue()).toList());
        // The statement is served from its cached encoding: the same bytes again.
        assertEquals(new String(response.body(), java.nio.charset.StandardCharsets.UTF_8),
                new String(client.get("metadata", "Accept", "application/fhir+json").body(), java.nio.charset.StandardCharsets.UTF_8));
    }

    static String provenance(String target, String recorded) {
        org.hl7.fhir.r4.model.Provenance provenance = new org.hl7.fhir.r4.model.Provenance();
        provenance.addTarget().setReference(target);
        provenance.setRecorded(java.util.Date.from(Instant.parse(recorded)));
        provenance.addAgent().getWho().setReference("Practitioner/someone");
        return server.store().create(provenance).id();
    }

    static List<String> provenanceIds(String kickoff) throws Exception {
        return BulkClient.ids(export(kickoff), "Provenance").stream().sorted().toList();
    }

    @Test
    void includeAssociatedDataExportsTheProvenanceOfExportedResources() throws Exception {
        Instant since = pause();
        String ofMember = server.store().create(observation("4444-4")).id();
        Observation other = observation("5555-5");
        other.getSubject().setReference("Patient/" + outsider);
        String ofOutsider = server.store().create(other).id();
        String older = provenance("Observation/" + ofMember, "2024-01-01T00:00:00Z");
        String newer = provenance("Observation/" + ofMember + "/_history/1", "2024-06-01T00:00:00Z");
        String outsiders = provenance("Observation/" + ofOutsider, "2024-01-01T00:00:00Z");
        provenance("Organization/elsewhere", "2024-01-01T00:00:00Z"); // of nothing exported

        String window = "?_type=Observation&_since=" + since + "&includeAssociatedData=";
        assertEquals(sorted(older, newer, outsiders), provenanceIds("$export" + window + "RelevantProvenanceResources"));
        assertEquals(sorted(newer, outsiders), provenanceIds("$export" + window + "LatestProvenanceResources"));
        // Both values: the less restrictive one.
        assertEquals(sorted(older, newer, outsiders), provenanceIds("Patient/$export" + window
                + "LatestProvenanceResources,RelevantProvenanceResources"));
        // Group level: only the Provenance of the members' resources; _typeFilter narrows the targets.
        String group = "Group/" + DemoData.GROUP_ID + "/$export" + window;
        assertEquals(sorted(older, newer), provenanceIds(group + "RelevantProvenanceResources"));
        assertEquals(sorted(newer), provenanceIds(group + "LatestProvenanceResources"));
        assertEquals(sorted(outsiders), provenanceIds("$export" + window
                + "RelevantProvenanceResources&_typeFilter=Observation%3Fcode%3D5555-5"));

        // An unknown value: 400 strictly, a warning in the error file leniently.
        HttpResponse<byte[]> strict = client.kickoff("$export" + window + "_myCustomPreset");
        assertEquals(400, strict.statusCode(), text(strict));
        assertTrue(outcome(strict).contains("_myCustomPreset"));
        HttpResponse<byte[]> lenient = client.kickoff("$export" + window + "_myCustomPreset,LatestProvenanceResources",
                "Prefer", "respond-async, handling=lenient");
        assertEquals(202, lenient.statusCode(), text(lenient));
        Map<String, List<IBaseResource>> files = client.download(client.await(BulkClient.statusUrl(lenient)));
        assertEquals(sorted(newer, outsiders), BulkClient.ids(files, "Provenance").stream().sorted().toList());
        assertTrue(((org.hl7.fhir.r4.model.OperationOutcome) files.get("OperationOutcome").get(0)).getIssueFirstRep()
                .getDiagnostics().contains("_myCustomPreset"));
    }
}
