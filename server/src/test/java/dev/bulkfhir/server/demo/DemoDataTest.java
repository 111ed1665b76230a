package dev.bulkfhir.server.demo;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.resource.ResourceStore;
import org.hl7.fhir.instance.model.api.IBaseReference;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.DocumentReference;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Quantity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DemoDataTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();

    private static List<String> encoded(long seed, int patients) {
        IParser parser = FHIR.newJsonParser();
        List<String> json = new ArrayList<>();
        new DemoData(FHIR, seed).generate(patients, resource -> json.add(parser.encodeResourceToString(resource)));
        return json;
    }

    @Test
    void theSameSeedGivesTheSameBytes() {
        List<String> first = encoded(42, 30);
        List<String> second = encoded(42, 30);
        assertEquals(first.size(), second.size());
        for (int i = 0; i < first.size(); i++) {
            assertArrayEquals(first.get(i).getBytes(StandardCharsets.UTF_8), second.get(i).getBytes(StandardCharsets.UTF_8),
                    "resource " + i);
        }
        assertNotEquals(first, encoded(43, 30), "another seed, another population");
    }

    @Test
    void aPatientDoesNotDependOnHowManyOthersAreGenerated() {
        List<String> small = encoded(5, 3);
        List<String> large = encoded(5, 300);
        // Everything but the Group (last) is a prefix of the larger population.
        assertEquals(small.subList(0, small.size() - 1), large.subList(0, small.size() - 1));
    }

    @Test
    void aboutTwentyToThirtyResourcesPerPatientAllReferencingEachOther() {
        List<IBaseResource> resources = new ArrayList<>();
        new DemoData(FHIR, 1).generate(400, resources::add);
        double perPatient = resources.size() / 400.0;
        assertTrue(perPatient >= 20 && perPatient <= 30, "resources per patient: " + perPatient);

        Set<String> ids = new HashSet<>();
        Map<String, Integer> types = new HashMap<>();
        for (IBaseResource resource : resources) {
            String type = FHIR.getResourceType(resource);
            String id = resource.getIdElement().getIdPart();
            assertTrue(id.matches("[A-Za-z0-9\\-.]{1,64}"), id);
            assertTrue(ids.add(type + "/" + id), "unique: " + type + "/" + id);
            types.merge(type, 1, Integer::sum);
        }
        for (String type : List.of("Patient", "Encounter", "Observation", "Condition", "MedicationRequest",
                "Organization", "Practitioner", "Binary", "DocumentReference", "Group")) {
            assertTrue(types.containsKey(type), type);
        }
        for (IBaseResource resource : resources) {
            for (IBaseReference reference : FHIR.newTerser().getAllPopulatedChildElementsOfType(resource,
                    IBaseReference.class)) {
                String target = reference.getReferenceElement().getValue();
                assertTrue(ids.contains(target), resource.getIdElement().getValue() + " refers to missing " + target);
            }
        }
    }

    @Test
    void observationsAreCodedWithLoincUcumAndCategory() {
        List<Observation> observations = new ArrayList<>();
        new DemoData(FHIR, 3).generate(50, resource -> {
            if (resource instanceof Observation observation) observations.add(observation);
        });
        Set<String> categories = new HashSet<>();
        for (Observation observation : observations) {
            assertEquals("http://loinc.org", observation.getCode().getCodingFirstRep().getSystem());
            String category = observation.getCategoryFirstRep().getCodingFirstRep().getCode();
            assertEquals("http://terminology.hl7.org/CodeSystem/observation-category",
                    observation.getCategoryFirstRep().getCodingFirstRep().getSystem());
            categories.add(category);
            assertTrue(observation.getSubject().getReference().startsWith("Patient/"));
            assertTrue(observation.getEncounter().getReference().startsWith("Encounter/"));
            List<Quantity> quantities = new ArrayList<>();
            if (observation.hasValueQuantity()) quantities.add(observation.getValueQuantity());
            observation.getComponent().forEach(c -> quantities.add(c.getValueQuantity()));
            assertFalse(quantities.isEmpty());
            for (Quantity quantity : quantities) {
                assertEquals("http://unitsofmeasure.org", quantity.getSystem());
                assertNotNull(quantity.getCode());
                assertNotNull(quantity.getValue());
            }
        }
        assertEquals(Set.of("vital-signs", "laboratory"), categories);
    }

    @Test
    void thePdfIsAValidSinglePagePdf() {
        byte[] pdf = DemoPdf.dischargeSummary("Zoë Müller (Smith)", "demo-pat-000001", "2024-05-06");
        String text = new String(pdf, StandardCharsets.ISO_8859_1);
        assertTrue(text.startsWith("%PDF-1.4\n"));
        assertTrue(text.endsWith("%%EOF"));
        assertEquals((byte) 0xE2, pdf[10], "a binary comment after the header");
        assertTrue(text.contains("/Count 1"));
        assertTrue(text.contains("Zo\\353 M\\374ller \\(Smith\\)"), "Latin-1 as octal escapes, parentheses escaped");

        // startxref points at the table, and every table entry at its object.
        Matcher startxref = Pattern.compile("startxref\n(\\d+)\n%%EOF$").matcher(text);
        assertTrue(startxref.find());
        int xref = Integer.parseInt(startxref.group(1));
        assertTrue(text.startsWith("xref\n0 6\n", xref), text.substring(xref));
        String[] entries = text.substring(xref + "xref\n0 6\n".length()).split("\n", 7);
        assertEquals("0000000000 65535 f ", entries[0]);
        for (int object = 1; object <= 5; object++) {
            assertEquals(19, entries[object].length(), "20-byte entries with their end of line");
            int offset = Integer.parseInt(entries[object].substring(0, 10));
            assertTrue(text.startsWith(object + " 0 obj\n", offset), "object " + object + " at " + offset);
        }
        // The content stream's length is what it says.
        Matcher length = Pattern.compile("<< /Length (\\d+) >>\nstream\n").matcher(text);
        assertTrue(length.find());
        int start = length.end();
        assertTrue(text.startsWith("\nendstream", start + Integer.parseInt(length.group(1))));
    }

    @Test
    void populateWritesEverythingAndTheGroupMembersExist(@TempDir Path dir) {
        try (Database database = Database.open("jdbc:h2:file:" + dir + "/db", null, null, 4)) {
            ResourceStore store = new ResourceStore(database.dataSource(), FHIR);
            List<IBaseResource> expected = new ArrayList<>();
            new DemoData(FHIR, 11).generate(100, expected::add);

            long written = DemoData.populate(store, 100, 11);

            assertEquals(expected.size(), written);
            IParser parser = FHIR.newJsonParser();
            Group group = parser.parseResource(Group.class,
                    store.read("Group", DemoData.GROUP_ID).orElseThrow().jsonText());
            assertEquals(Group.GroupType.PERSON, group.getType());
            assertTrue(group.getActual());
            assertEquals(34, group.getMember().size());
            for (Group.GroupMemberComponent member : group.getMember()) {
                String[] reference = member.getEntity().getReference().split("/");
                assertEquals("Patient", reference[0]);
                assertTrue(store.read("Patient", reference[1]).isPresent(), member.getEntity().getReference());
            }

            DocumentReference document = parser.parseResource(DocumentReference.class,
                    store.read("DocumentReference", DemoData.DOCUMENT_REFERENCE_ID).orElseThrow().jsonText());
            assertEquals("Patient/" + DemoData.patientId(0), document.getSubject().getReference());
            var attachment = document.getContentFirstRep().getAttachment();
            assertEquals("application/pdf", attachment.getContentType());
            assertEquals("discharge-summary.pdf", attachment.getTitle());
            assertEquals("Binary/" + DemoData.BINARY_ID, attachment.getUrl());
            assertTrue(store.read("Binary", DemoData.BINARY_ID).isPresent());

            Binary binary = (Binary) expected.stream()
                    .filter(r -> r instanceof Binary).findFirst().orElseThrow();
            assertEquals("application/pdf", binary.getContentType());
            assertEquals(attachment.getSize(), binary.getContent().length);
            assertTrue(new String(binary.getContent(), StandardCharsets.ISO_8859_1).startsWith("%PDF-"));
            assertTrue(new String(binary.getContent(), StandardCharsets.ISO_8859_1).contains(DemoData.patientId(0)),
                    "the PDF names the patient");
        }
    }
}
