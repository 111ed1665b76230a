package dev.bulkfhir.examples.plain;

import ca.uhn.fhir.rest.annotation.Create;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.Read;
import ca.uhn.fhir.rest.annotation.ResourceParam;
import ca.uhn.fhir.rest.annotation.Search;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Resource;

import java.time.Instant;
import java.util.List;

/** The host's own read/create/search provider for one type, on its own storage. */
final class ClinicProvider implements IResourceProvider {

    private final Class<? extends Resource> type;
    private final ClinicRecords records;

    ClinicProvider(Class<? extends Resource> type, ClinicRecords records) {
        this.type = type;
        this.records = records;
    }

    @Override
    public Class<? extends IBaseResource> getResourceType() {
        return type;
    }

    @Read
    public IBaseResource read(@IdParam IdType id) {
        ClinicRecords.Version version = records.current(type.getSimpleName(), id.getIdPart());
        if (version == null) {
            throw new ResourceNotFoundException(id);
        }
        return records.parse(version);
    }

    @Create
    public MethodOutcome create(@ResourceParam Resource resource) {
        resource.setId((String) null);
        Resource saved = records.save(resource);
        return new MethodOutcome(saved.getIdElement(), true).setResource(saved);
    }

    @Search
    public List<IBaseResource> all() {
        return records.asOf(type.getSimpleName(), Instant.now()).stream().map(records::parse).toList();
    }
}
