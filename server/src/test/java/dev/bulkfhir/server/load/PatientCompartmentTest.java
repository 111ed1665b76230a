package dev.bulkfhir.server.load;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import dev.bulkfhir.server.demo.DemoNdjson;
import dev.bulkfhir.storage.resource.PatientCompartment;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The compartment index follows the paths it caches exactly as HAPI's terser would, on the demo data
 * (the awkward cases are in storage's own PatientCompartmentTest).
 */
class PatientCompartmentTest {

    private static final FhirContext CONTEXT = FhirContext.forR4Cached();
    private final PatientCompartment compartment = new PatientCompartment(CONTEXT);

    @Test
    void demoDataIsIndexedAsHapisTerserSaysItShouldBe(@TempDir Path dir) throws IOException {
        DemoNdjson.write(CONTEXT, 30, 11, dir);
        IParser parser = CONTEXT.newJsonParser();
        int withPatients = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.sorted().toList()) {
                for (String line : Files.readAllLines(file)) {
                    IBaseResource resource = parser.parseResource(line);
                    Set<String> ids = compartment.patientIds(resource);
                    assertEquals(hapi(resource), ids, line);
                    if (!ids.isEmpty()) withPatients++;
                }
            }
        }
        assertTrue(withPatients > 300, "resources in a compartment: " + withPatients);
    }

    /** What the store indexed before the paths were cached. */
    private static Set<String> hapi(IBaseResource resource) {
        Set<String> ids = new LinkedHashSet<>();
        String type = CONTEXT.getResourceType(resource);
        if ("Patient".equals(type) && resource.getIdElement().hasIdPart()) {
            ids.add(resource.getIdElement().getIdPart());
        }
        if (CONTEXT.getResourceDefinition(type).getSearchParamsForCompartmentName("Patient").isEmpty()) {
            return ids;
        }
        for (IIdType owner : CONTEXT.newTerser().getCompartmentOwnersForResource("Patient", resource, Set.of())) {
            if ("Patient".equals(owner.getResourceType()) && owner.hasIdPart() && !owner.hasBaseUrl()) {
                ids.add(owner.getIdPart());
            }
        }
        return ids;
    }
}
