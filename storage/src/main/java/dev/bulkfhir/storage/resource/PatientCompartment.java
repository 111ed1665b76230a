package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.util.FhirTerser;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Which patients' compartments hold a resource, from the R4 Patient CompartmentDefinition as
 * HAPI's resource definitions carry it. A Patient is in its own compartment.
 */
public final class PatientCompartment {

    private final FhirContext context;

    public PatientCompartment(FhirContext context) {
        this.context = context;
    }

    public Set<String> patientIds(IBaseResource resource) {
        Set<String> ids = new LinkedHashSet<>();
        String type = context.getResourceType(resource);
        if ("Patient".equals(type) && resource.getIdElement().hasIdPart()) {
            ids.add(resource.getIdElement().getIdPart());
        }
        if (context.getResourceDefinition(type).getSearchParamsForCompartmentName("Patient").isEmpty()) {
            return ids;
        }
        FhirTerser terser = context.newTerser();
        for (IIdType owner : terser.getCompartmentOwnersForResource("Patient", resource, Set.of())) {
            if ("Patient".equals(owner.getResourceType()) && owner.hasIdPart() && !owner.hasBaseUrl()) {
                ids.add(owner.getIdPart());
            }
        }
        return ids;
    }
}
