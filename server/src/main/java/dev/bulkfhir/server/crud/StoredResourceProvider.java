package dev.bulkfhir.server.crud;

import ca.uhn.fhir.model.api.ResourceMetadataKeyEnum;
import ca.uhn.fhir.model.valueset.BundleEntryTransactionMethodEnum;
import ca.uhn.fhir.rest.annotation.Count;
import ca.uhn.fhir.rest.annotation.Create;
import ca.uhn.fhir.rest.annotation.Delete;
import ca.uhn.fhir.rest.annotation.History;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.OptionalParam;
import ca.uhn.fhir.rest.annotation.Read;
import ca.uhn.fhir.rest.annotation.ResourceParam;
import ca.uhn.fhir.rest.annotation.Search;
import ca.uhn.fhir.rest.annotation.Update;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.api.server.IBundleProvider;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.param.DateRangeParam;
import ca.uhn.fhir.rest.param.ReferenceParam;
import ca.uhn.fhir.rest.param.TokenOrListParam;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.rest.server.SimpleBundleProvider;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.StoredResource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.InstantType;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Create, read, vread, update, delete, instance history and search for one resource type of the
 * built-in store. One instance is registered per R4 resource type.
 */
public class StoredResourceProvider implements IResourceProvider {

    private final Class<? extends IBaseResource> resourceClass;
    private final String type;
    private final ResourceStore store;
    private final StoredResources resources;
    private final CursorPagingProvider paging;

    public StoredResourceProvider(
            Class<? extends IBaseResource> resourceClass, ResourceStore store, CursorPagingProvider paging) {
        this.resourceClass = resourceClass;
        this.store = store;
        this.paging = paging;
        this.resources = new StoredResources(store.context());
        this.type = store.context().getResourceType(resourceClass);
    }

    @Override
    public Class<? extends IBaseResource> getResourceType() {
        return resourceClass;
    }

    @Read(version = true)
    public IBaseResource read(@IdParam IdType id) {
        String logicalId = requireKnownId(id);
        StoredResource stored;
        if (id.hasVersionIdPart()) {
            if (!id.isVersionIdPartValidLong()) {
                throw new ResourceNotFoundException(id);
            }
            stored = store.vread(type, logicalId, id.getVersionIdPartAsLong()).orElseThrow(() -> notFound(id));
        } else {
            stored = store.read(type, logicalId).orElseThrow(() -> notFound(id));
        }
        if (stored.deleted()) {
            throw new ResourceGoneException("Resource " + type + "/" + logicalId + " was deleted (version "
                    + stored.version() + ").");
        }
        return resources.parse(stored);
    }

    @Create
    public MethodOutcome create(@ResourceParam IBaseResource resource) {
        StoredResource stored = StoreErrors.translate(() -> store.create(resource));
        return outcome(resource, stored, true);
    }

    @Update
    public MethodOutcome update(@IdParam IdType id, @ResourceParam IBaseResource resource) {
        String logicalId = id.getIdPart();
        String bodyId = resource.getIdElement().getIdPart();
        if (bodyId != null && !bodyId.equals(logicalId)) {
            throw new InvalidRequestException("The resource id in the body (" + bodyId
                    + ") does not match the id in the URL (" + logicalId + ").");
        }
        resource.setId(type + "/" + logicalId);
        StoredResource stored = StoreErrors.translate(() -> store.update(resource));
        return outcome(resource, stored, stored.version() == 1);
    }

    @Delete
    public MethodOutcome delete(@IdParam IdType id) {
        String logicalId = requireKnownId(id);
        StoredResource deleted = StoreErrors.translate(() -> store.delete(type, logicalId))
                .orElseThrow(() -> notFound(id));
        MethodOutcome outcome = new MethodOutcome(new IdType(type, logicalId, Long.toString(deleted.version())));
        outcome.setOperationOutcome(OperationOutcomes.of("information", "informational",
                "Deleted " + type + "/" + logicalId + " (version " + deleted.version() + ")."));
        return outcome;
    }

    @History
    public IBundleProvider history(@IdParam IdType id) {
        String logicalId = requireKnownId(id);
        List<StoredResource> versions = store.history(type, logicalId);
        if (versions.isEmpty()) {
            throw notFound(id);
        }
        List<IBaseResource> entries = new ArrayList<>(versions.size());
        for (StoredResource version : versions) {
            entries.add(version.deleted() ? deletionMarker(version) : resources.parse(version));
        }
        return new SimpleBundleProvider(entries);
    }

    @Search
    public IBundleProvider search(
            @OptionalParam(name = "_id") TokenOrListParam ids,
            @OptionalParam(name = "_lastUpdated") DateRangeParam lastUpdated,
            @OptionalParam(name = "patient") ReferenceParam patient,
            @OptionalParam(name = "subject") ReferenceParam subject,
            @Count Integer count,
            RequestDetails request) {
        Set<String> idSet = new LinkedHashSet<>();
        if (ids != null) {
            ids.getValuesAsQueryTokens().forEach(token -> idSet.add(token.getValue()));
        }
        SearchCriteria criteria = SearchCriteria.of(store.context(), type, idSet, lastUpdated, patient, subject);
        // FHIR R4: _count=0 is _summary=count, the number of matches without them.
        boolean countOnly = RestfulServerUtils.determineSummaryMode(request).contains(SummaryEnum.COUNT);
        if (countOnly || Integer.valueOf(0).equals(count)) {
            return paging.totalOnly(criteria);
        }
        // An estimate may be the exact number; _total=none, or no _total, spares the count.
        return paging.firstPage(criteria, count, TotalMode.of(request) != TotalMode.NONE);
    }

    private IBaseResource deletionMarker(StoredResource version) {
        IBaseResource marker = store.context().getResourceDefinition(type).newInstance();
        marker.setId(new IdType(type, version.id(), Long.toString(version.version())));
        marker.getMeta().setVersionId(Long.toString(version.version()));
        marker.getMeta().setLastUpdated(java.util.Date.from(version.lastUpdated()));
        ResourceMetadataKeyEnum.DELETED_AT.put(marker, new InstantType(java.util.Date.from(version.lastUpdated())));
        ResourceMetadataKeyEnum.ENTRY_TRANSACTION_METHOD.put(marker, BundleEntryTransactionMethodEnum.DELETE);
        return marker;
    }

    private MethodOutcome outcome(IBaseResource resource, StoredResource stored, boolean created) {
        IIdType id = new IdType(type, stored.id(), Long.toString(stored.version()));
        resource.setId(id);
        MethodOutcome outcome = new MethodOutcome(id, created);
        outcome.setResource(resource);
        return outcome;
    }

    /** Ids that could never be stored are not found, whatever they try (e.g. path traversal). */
    private String requireKnownId(IdType id) {
        String logicalId = id.getIdPart();
        if (!ResourceStore.isValidId(logicalId)) {
            throw notFound(id);
        }
        return logicalId;
    }

    private ResourceNotFoundException notFound(IdType id) {
        return new ResourceNotFoundException("Resource " + type + "/" + id.getIdPart() + " is not known.");
    }
}
