package dev.bulkfhir.server.crud;

import ca.uhn.fhir.rest.annotation.Transaction;
import ca.uhn.fhir.rest.annotation.TransactionParam;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.util.FhirTerser;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.ResourceWrites;
import dev.bulkfhir.storage.resource.StoredResource;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;
import org.hl7.fhir.instance.model.api.IBaseReference;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleEntryComponent;
import org.hl7.fhir.r4.model.Bundle.BundleEntryResponseComponent;
import org.hl7.fhir.r4.model.Bundle.HTTPVerb;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.OperationOutcome;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * {@code batch} and {@code transaction} Bundles posted to the server base. A transaction runs
 * in one database transaction (all entries or none) and resolves {@code urn:uuid:} references
 * between its entries; a batch runs each entry on its own.
 */
public final class BundleProvider {

    private final ResourceStore store;
    private final StoredResources resources;

    public BundleProvider(ResourceStore store) {
        this.store = store;
        this.resources = new StoredResources(store.context());
    }

    @Transaction
    public Bundle process(@TransactionParam Bundle bundle) {
        if (bundle.getType() == Bundle.BundleType.TRANSACTION) {
            return transaction(bundle);
        }
        if (bundle.getType() == Bundle.BundleType.BATCH) {
            return batch(bundle);
        }
        throw new InvalidRequestException("Bundle.type must be 'transaction' or 'batch' to be processed at the "
                + "server base, not '" + bundle.getType().toCode() + "'.");
    }

    private Bundle transaction(Bundle bundle) {
        List<BundleEntryComponent> entries = bundle.getEntry();
        for (int i = 0; i < entries.size(); i++) {
            validate(entries.get(i), i);
        }
        resolvePlaceholders(entries);
        Bundle response = new Bundle().setType(Bundle.BundleType.TRANSACTIONRESPONSE);
        entries.forEach(entry -> response.addEntry());
        // FHIR's processing order: deletes, creates, updates, reads.
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) order.add(i);
        order.sort(Comparator.comparingInt(i -> rank(entries.get(i).getRequest().getMethod())));
        StoreErrors.translate(() -> store.inTransaction(writes -> {
            // Creates carry fresh server ids, so they go in as one batch.
            List<Integer> creates = order.stream()
                    .filter(i -> entries.get(i).getRequest().getMethod() == HTTPVerb.POST).toList();
            List<StoredResource> created = writes.createAllNew(
                    creates.stream().map(i -> (IBaseResource) entries.get(i).getResource()).toList());
            for (int c = 0; c < creates.size(); c++) {
                response.getEntry().set(creates.get(c), respond(new BundleEntryComponent(), created.get(c), "201 Created"));
            }
            for (int i : order) {
                if (entries.get(i).getRequest().getMethod() == HTTPVerb.POST) continue;
                try {
                    response.getEntry().set(i, execute(writes, entries.get(i)));
                } catch (BaseServerResponseException e) {
                    throw withEntry(e, i);
                }
            }
            return null;
        }));
        return response;
    }

    private Bundle batch(Bundle bundle) {
        Bundle response = new Bundle().setType(Bundle.BundleType.BATCHRESPONSE);
        List<BundleEntryComponent> entries = bundle.getEntry();
        for (int i = 0; i < entries.size(); i++) {
            BundleEntryComponent entry = entries.get(i);
            try {
                validate(entry, i);
                response.addEntry(StoreErrors.translate(() -> store.inTransaction(writes -> execute(writes, entry))));
            } catch (BaseServerResponseException e) {
                BundleEntryComponent failed = new BundleEntryComponent();
                failed.getResponse().setStatus(String.valueOf(e.getStatusCode()))
                        .setOutcome((OperationOutcome) outcome(e.getMessage()));
                response.addEntry(failed);
            }
        }
        return response;
    }

    private static void validate(BundleEntryComponent entry, int index) {
        if (!entry.hasRequest() || entry.getRequest().getMethod() == null || !entry.getRequest().hasUrl()) {
            throw new InvalidRequestException("Bundle entry " + index + " has no request method and url.");
        }
        HTTPVerb method = entry.getRequest().getMethod();
        if ((method == HTTPVerb.POST || method == HTTPVerb.PUT) && !entry.hasResource()) {
            throw new InvalidRequestException("Bundle entry " + index + " (" + method + ") has no resource.");
        }
        if (method == HTTPVerb.PATCH || method == HTTPVerb.HEAD || method == HTTPVerb.NULL) {
            throw new InvalidRequestException("Bundle entry " + index + ": method " + method
                    + " is not supported in a Bundle; use POST, PUT, DELETE or GET.");
        }
    }

    /**
     * Gives every created resource its server id, and rewrites references to {@code urn:uuid:}
     * entries to their ids.
     */
    private void resolvePlaceholders(List<BundleEntryComponent> entries) {
        Map<String, String> targets = new HashMap<>();
        for (BundleEntryComponent entry : entries) {
            if (entry.getRequest().getMethod() == HTTPVerb.POST) {
                entry.getResource().setId(entry.getResource().fhirType() + "/" + UUID.randomUUID());
            }
            String fullUrl = entry.getFullUrl();
            if (fullUrl == null || !fullUrl.startsWith("urn:uuid:") || !entry.hasResource()) continue;
            String type = entry.getResource().fhirType();
            String id = entry.getRequest().getMethod() == HTTPVerb.PUT
                    ? new IdType(entry.getRequest().getUrl()).getIdPart()
                    : entry.getResource().getIdElement().getIdPart();
            targets.put(fullUrl, type + "/" + id);
        }
        if (targets.isEmpty()) return;
        FhirTerser terser = store.context().newTerser();
        for (BundleEntryComponent entry : entries) {
            if (!entry.hasResource()) continue;
            for (IBaseReference reference : terser.getAllPopulatedChildElementsOfType(
                    entry.getResource(), IBaseReference.class)) {
                String target = targets.get(reference.getReferenceElement().getValue());
                if (target != null) {
                    reference.setReference(target);
                }
            }
        }
    }

    private BundleEntryComponent execute(ResourceWrites writes, BundleEntryComponent entry) throws SQLException {
        HTTPVerb method = entry.getRequest().getMethod();
        IdType url = new IdType(entry.getRequest().getUrl());
        BundleEntryComponent result = new BundleEntryComponent();
        switch (method) {
            case POST -> respond(result, writes.create(entry.getResource()), "201 Created");
            case PUT -> {
                IBaseResource resource = entry.getResource();
                if (!url.hasResourceType() || !url.hasIdPart()) {
                    throw new InvalidRequestException("PUT needs a url of the form Type/id, not '"
                            + entry.getRequest().getUrl() + "'.");
                }
                requireType(resource, url);
                resource.setId(url.getResourceType() + "/" + url.getIdPart());
                StoredResource stored = writes.update(resource);
                respond(result, stored, stored.version() == 1 ? "201 Created" : "200 OK");
            }
            case DELETE -> {
                requireInstanceUrl(url, entry);
                Optional<StoredResource> deleted = writes.delete(url.getResourceType(), url.getIdPart());
                result.getResponse().setStatus(deleted.isPresent() ? "204 No Content" : "404 Not Found");
            }
            case GET -> {
                requireInstanceUrl(url, entry);
                StoredResource stored = writes.read(url.getResourceType(), url.getIdPart())
                        .orElseThrow(() -> new ResourceNotFoundException(url));
                if (stored.deleted()) {
                    throw new ResourceGoneException(url);
                }
                result.setResource((org.hl7.fhir.r4.model.Resource) resources.parse(stored));
                respond(result, stored, "200 OK");
            }
            default -> throw new InvalidRequestException("Unsupported method " + method);
        }
        return result;
    }

    private void requireType(IBaseResource resource, IdType url) {
        String type = store.context().getResourceType(resource);
        if (!type.equals(url.getResourceType())) {
            throw new InvalidRequestException("The resource is a " + type + " but the url names "
                    + url.getResourceType() + ".");
        }
    }

    private void requireInstanceUrl(IdType url, BundleEntryComponent entry) {
        if (!url.hasResourceType() || !url.hasIdPart()
                || !store.context().getResourceTypes().contains(url.getResourceType())) {
            throw new InvalidRequestException("Only Type/id urls are supported for "
                    + entry.getRequest().getMethod() + " in a Bundle, not '" + entry.getRequest().getUrl() + "'.");
        }
        if (!ResourceStore.isValidId(url.getIdPart())) {
            throw new ResourceNotFoundException(url);
        }
    }

    private static BundleEntryComponent respond(BundleEntryComponent result, StoredResource stored, String status) {
        BundleEntryResponseComponent response = result.getResponse();
        response.setStatus(status)
                .setLocation(stored.type() + "/" + stored.id() + "/_history/" + stored.version())
                .setEtag("W/\"" + stored.version() + "\"")
                .setLastModified(java.util.Date.from(stored.lastUpdated()));
        return result;
    }

    private static int rank(HTTPVerb method) {
        return switch (method) {
            case DELETE -> 0;
            case POST -> 1;
            case PUT -> 2;
            default -> 3;
        };
    }

    private static BaseServerResponseException withEntry(BaseServerResponseException e, int index) {
        String message = "Transaction failed and was rolled back; entry " + index + ": " + e.getMessage();
        return BaseServerResponseException.newInstance(e.getStatusCode(), message);
    }

    private IBaseOperationOutcome outcome(String text) {
        return OperationOutcomes.error("processing", text);
    }
}
