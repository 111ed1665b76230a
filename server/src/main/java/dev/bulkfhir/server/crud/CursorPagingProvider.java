package dev.bulkfhir.server.crud;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.server.IBundleProvider;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.BundleProviderWithNamedPages;
import ca.uhn.fhir.rest.server.IPagingProvider;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import dev.bulkfhir.storage.resource.ResourceQuery;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.SearchPage;
import dev.bulkfhir.storage.resource.StoredResource;
import org.hl7.fhir.instance.model.api.IBaseResource;

import java.util.ArrayList;
import java.util.List;

/**
 * Stateless paging: the search id in a next/previous link is the encoded search and its page
 * size, the page id a storage cursor. Nothing is kept in memory between requests.
 */
public final class CursorPagingProvider implements IPagingProvider {

    static final int DEFAULT_PAGE_SIZE = 50;
    static final int MAX_PAGE_SIZE = 1000;

    private final ResourceStore store;
    private final FhirContext context;
    private final StoredResources resources;

    public CursorPagingProvider(ResourceStore store) {
        this.store = store;
        this.context = store.context();
        this.resources = new StoredResources(context);
    }

    /** The first page of a search; with {@code withTotal}, the number of all its matches as well (Bundle.total). */
    IBundleProvider firstPage(SearchCriteria criteria, Integer count, boolean withTotal) {
        int size = count == null || count <= 0 ? DEFAULT_PAGE_SIZE : Math.min(count, MAX_PAGE_SIZE);
        return page(criteria, size, null, withTotal ? total(criteria) : null);
    }

    /** The number of a search's matches alone: Bundle.total, no entries and nothing to page to. */
    IBundleProvider totalOnly(SearchCriteria criteria) {
        return new BundleProviderWithNamedPages(
                List.of(), searchId(DEFAULT_PAGE_SIZE, criteria), "a0", total(criteria));
    }

    private int total(SearchCriteria criteria) {
        long total = store.count(criteria.toQuery(context, MAX_PAGE_SIZE, null));
        return (int) Math.min(total, Integer.MAX_VALUE);
    }

    private IBundleProvider page(SearchCriteria criteria, int size, ResourceQuery.Cursor cursor, Integer total) {
        SearchPage page = store.search(criteria.toQuery(context, size, cursor));
        List<IBaseResource> parsed = new ArrayList<>(page.resources().size());
        for (StoredResource stored : page.resources()) {
            parsed.add(resources.parse(stored));
        }
        String current = cursor == null ? "a0" : cursor.toString();
        BundleProviderWithNamedPages provider =
                new BundleProviderWithNamedPages(parsed, searchId(size, criteria), current, total);
        provider.setNextPageId(page.next() == null ? null : page.next().toString());
        provider.setPreviousPageId(page.previous() == null ? null : page.previous().toString());
        provider.setPreferredPageSize(size);
        return provider;
    }

    private static String searchId(int size, SearchCriteria criteria) {
        return size + "." + criteria.encode();
    }

    @Override
    public int getDefaultPageSize() {
        return DEFAULT_PAGE_SIZE;
    }

    @Override
    public int getMaximumPageSize() {
        return MAX_PAGE_SIZE;
    }

    @Override
    public String storeResultList(RequestDetails request, IBundleProvider results) {
        return results.getUuid();
    }

    @Override
    public IBundleProvider retrieveResultList(RequestDetails request, String searchId) {
        return retrieveResultList(request, searchId, "a0");
    }

    @Override
    public IBundleProvider retrieveResultList(RequestDetails request, String searchId, String pageId) {
        int dot = searchId == null ? -1 : searchId.indexOf('.');
        int size;
        ResourceQuery.Cursor cursor;
        try {
            size = Integer.parseInt(searchId.substring(0, dot));
            cursor = ResourceQuery.Cursor.parse(pageId);
        } catch (RuntimeException e) {
            throw new InvalidRequestException("Invalid or corrupted paging link (_getpages/_pageId).");
        }
        if (size <= 0 || size > MAX_PAGE_SIZE) {
            throw new InvalidRequestException("Invalid page size in paging link.");
        }
        SearchCriteria criteria = SearchCriteria.decode(context, searchId.substring(dot + 1));
        return page(criteria, size, cursor.key() == 0 && cursor.forward() ? null : cursor, null);
    }
}
