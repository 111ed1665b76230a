package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import org.hl7.fhir.r4.model.CanonicalType;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.CapabilityStatement.CapabilityStatementRestResourceComponent;
import org.hl7.fhir.r4.model.Element;
import org.hl7.fhir.r4.model.Enumerations.SearchParamType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The IG's declarations added to whatever CapabilityStatement the host generates. */
class ExportCapabilitiesTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();

    private static List<String> notSupported(Element element) {
        return element.getExtensionsByUrl(ExportCapabilities.NOT_SUPPORTED).stream()
                .map(e -> ((CanonicalType) e.getValue()).getValue()).toList();
    }

    @Test
    void instantiatesTheIgWithItsVersionAndMarksWhatExportCannotDoOnce() {
        CapabilityStatement statement = new CapabilityStatement();
        CapabilityStatement.CapabilityStatementRestComponent rest = statement.addRest();
        CapabilityStatementRestResourceComponent observation = rest.addResource().setType("Observation");
        observation.addSearchParam().setName("code").setType(SearchParamType.TOKEN);
        observation.addSearchParam().setName("date").setType(SearchParamType.DATE);
        observation.addSearchParam().setName("subject").setType(SearchParamType.REFERENCE);
        observation.addSearchParam().setName("value-string").setType(SearchParamType.STRING);
        observation.addSearchParam().setName("value-quantity").setType(SearchParamType.QUANTITY);
        CapabilityStatementRestResourceComponent organization = rest.addResource().setType("Organization");

        ExportCapabilities capabilities = new ExportCapabilities(FHIR, new ExportTypes(FHIR));
        capabilities.declare(statement);
        capabilities.declare(statement); // regenerated statements may be the same object: nothing twice

        assertEquals(List.of(ExportCapabilities.BULK_DATA, ExportCapabilities.BULK_DATA + "|3.0.0"),
                statement.getInstantiates().stream().map(CanonicalType::getValue).toList());
        assertEquals(List.of(), notSupported(observation), "Observation is in the Patient compartment");
        assertEquals(List.of(KickoffOperation.PATIENT_EXPORT_DEFINITION, KickoffOperation.GROUP_EXPORT_DEFINITION),
                notSupported(organization));
        for (var param : observation.getSearchParam()) {
            boolean usable = List.of("code", "date", "subject").contains(param.getName());
            assertEquals(usable ? List.of() : List.of(ExportCapabilities.BULK_DATA), notSupported(param),
                    param.getName());
        }
    }

    @Test
    void typeFilterSupportFollowsWhatTheFilterCanEvaluate() {
        assertTrue(TypeFilter.supports(FHIR, "Observation", "category"));
        assertTrue(TypeFilter.supports(FHIR, "Encounter", "date"));
        assertTrue(TypeFilter.supports(FHIR, "Patient", "_id"));
        assertTrue(TypeFilter.supports(FHIR, "Patient", "_lastUpdated"));
        assertTrue(!TypeFilter.supports(FHIR, "Patient", "name"));
        assertTrue(!TypeFilter.supports(FHIR, "Patient", "no-such-parameter"));
    }
}
