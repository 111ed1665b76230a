package dev.bulkfhir.server.crud;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.storage.resource.StoredResource;
import org.hl7.fhir.instance.model.api.IBaseResource;

import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/** Turns stored JSON back into HAPI model objects for the CRUD responses. */
final class StoredResources {

    private final FhirContext context;

    StoredResources(FhirContext context) {
        this.context = context;
    }

    IBaseResource parse(StoredResource stored) {
        return context.newJsonParser().parseResource(
                new InputStreamReader(new ByteArrayInputStream(stored.json()), StandardCharsets.UTF_8));
    }
}
