package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.model.api.ResourceMetadataKeyEnum;
import ca.uhn.fhir.model.valueset.BundleEntryTransactionMethodEnum;
import ca.uhn.fhir.rest.annotation.Count;
import ca.uhn.fhir.rest.annotation.Create;
import ca.uhn.fhir.rest.annotation.Delete;
import ca.uhn.fhir.rest.annotation.History;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.Offset;
import ca.uhn.fhir.rest.annotation.OptionalParam;
import ca.uhn.fhir.rest.annotation.Read;
import ca.uhn.fhir.rest.annotation.ResourceParam;
import ca.uhn.fhir.rest.annotation.Search;
import ca.uhn.fhir.rest.annotation.Update;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.api.server.IBundleProvider;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.param.DateRangeParam;
import ca.uhn.fhir.rest.param.TokenOrListParam;
import ca.uhn.fhir.rest.server.IPagingProvider;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.rest.server.SimpleBundleProvider;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.method.ElementsParameter;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.RequestSideChannels;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;
import dev.bulkfhir.storage.binary.StagedContent;
import dev.bulkfhir.storage.resource.ResourceQuery;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.SearchPage;
import dev.bulkfhir.storage.resource.StoredResource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.InstantType;
import org.hl7.fhir.r4.model.Reference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Binary as a FHIR resource: the wrapped read (base64 {@code data}), FHIR-format create and update,
 * delete, search and history. Native reads and raw uploads never get here; {@link BinaryInterceptor}
 * streams them.
 */
public final class BinaryResourceProvider implements IResourceProvider {

    private static final int DEFAULT_PAGE_SIZE = 20;
    private static final int MAX_PAGE_SIZE = 100;

    private final FhirContext context;
    private final ResourceStore store;
    private final BinarySource source;
    private final BinaryAccessSettings settings;

    BinaryResourceProvider(ResourceStore store, BinarySource source, BinaryAccessSettings settings) {
        this.context = store.context();
        this.store = store;
        this.source = source;
        this.settings = settings;
    }

    @Override
    public Class<Binary> getResourceType() {
        return Binary.class;
    }

    /** The wrapped read: the interceptor has already decided that the client asked for FHIR. */
    @Read(version = true)
    public Binary read(@IdParam IdType id, RequestDetails request) {
        BinaryDocument document = RequestSideChannels.keptBinary(request);
        if (document == null) {
            document = BinarySources.lookup(source, id.getIdPart(), id.getVersionIdPart());
        }
        Binary binary = toResource(document);
        if (wantsData(request)) {
            long size = document.content().size();
            if (size > settings.maxWrappedContent()) {
                throw OperationOutcomes.status(406, "too-costly", "Binary/" + document.id() + " holds " + size
                        + " bytes, more than this server sends base64-encoded (" + settings.maxWrappedContent()
                        + "). Ask for the content natively: GET Binary/" + document.id() + " without _format and"
                        + " with no FHIR type in Accept, or GET Binary/" + document.id() + "/$binary-access-read.");
            }
            binary.setData(readAll(document));
        }
        return binary;
    }

    @Create
    public MethodOutcome create(@ResourceParam Binary binary, RequestDetails request) {
        StoredResource stored = write(binary, request, true);
        return outcome(binary, stored, true);
    }

    @Update
    public MethodOutcome update(@IdParam IdType id, @ResourceParam Binary binary, RequestDetails request) {
        String logicalId = id.getIdPart();
        if (!ResourceStore.isValidId(logicalId)) {
            throw new InvalidRequestException("Invalid Binary id '" + logicalId
                    + "': an id is 1 to 64 letters, digits, '-' or '.'.");
        }
        String bodyId = binary.getIdElement().getIdPart();
        if (bodyId != null && !bodyId.equals(logicalId)) {
            throw new InvalidRequestException("The resource id in the body (" + bodyId
                    + ") does not match the id in the URL (" + logicalId + ").");
        }
        BinaryWrites.requireWritable(source, logicalId);
        binary.setId("Binary/" + logicalId);
        StoredResource stored = write(binary, request, false);
        return outcome(binary, stored, stored.version() == 1);
    }

    @Delete
    public MethodOutcome delete(@IdParam IdType id) {
        String logicalId = id.getIdPart();
        if (!ResourceStore.isValidId(logicalId)) {
            throw BinarySources.notFound();
        }
        BinaryWrites.requireWritable(source, logicalId);
        StoredResource deleted = store.delete("Binary", logicalId).orElseThrow(() -> BinarySources.notFound());
        MethodOutcome outcome = new MethodOutcome(new IdType("Binary", logicalId, Long.toString(deleted.version())));
        outcome.setOperationOutcome(OperationOutcomes.of("information", "informational", "Deleted Binary/"
                + logicalId + " (version " + deleted.version() + ")."));
        return outcome;
    }

    /**
     * {@code GET Binary?_id=...&_lastUpdated=...}: a page of wrapped Binaries. Pages link to each other
     * by {@code _offset}, so paging needs no server-side state and no paging provider of ours.
     */
    @Search
    public IBundleProvider search(
            @OptionalParam(name = "_id") TokenOrListParam ids,
            @OptionalParam(name = "_lastUpdated") DateRangeParam lastUpdated,
            @Count Integer count,
            @Offset Integer offset,
            RequestDetails request) {
        int size = pageSize(request, count);
        int skip = offset == null ? 0 : offset;
        if (skip < 0) {
            throw new InvalidRequestException("_offset must not be negative.");
        }
        Set<String> idSet = new LinkedHashSet<>();
        if (ids != null) {
            ids.getValuesAsQueryTokens().forEach(token -> idSet.add(token.getValue()));
        }
        if (!idSet.isEmpty() && idSet.removeIf(id -> !ResourceStore.isValidId(id)) && idSet.isEmpty()) {
            return page(List.of(), skip, size, false);
        }
        Instant from = null;
        Instant before = null;
        if (lastUpdated != null) {
            if (lastUpdated.getLowerBoundAsInstant() != null) {
                from = lastUpdated.getLowerBoundAsInstant().toInstant();
            }
            if (lastUpdated.getUpperBoundAsInstant() != null) {
                // The upper bound is the last instant included.
                before = lastUpdated.getUpperBoundAsInstant().toInstant().plusMillis(1);
            }
        }
        ResourceQuery.Cursor cursor = null;
        // Walk past the earlier pages without loading any content.
        while (skip > 0) {
            int step = Math.min(skip, 1000);
            SearchPage skipped = store.search(new ResourceQuery("Binary", idSet, from, before, null, null, step, cursor));
            skip -= skipped.resources().size();
            cursor = skipped.next();
            if (cursor == null) {
                return page(List.of(), offset, size, false);
            }
        }
        SearchPage found = store.search(new ResourceQuery("Binary", idSet, from, before, null, null, size, cursor));
        return page(wrapAll(found.resources(), request), offset == null ? 0 : offset, size, found.next() != null);
    }

    /** All versions, newest first, a deleted version as an entry without a resource body. */
    @History
    public IBundleProvider history(@IdParam IdType id, @Count Integer count, RequestDetails request) {
        String logicalId = id.getIdPart();
        if (!ResourceStore.isValidId(logicalId)) {
            throw BinarySources.notFound();
        }
        List<StoredResource> versions = store.history("Binary", logicalId);
        if (versions.isEmpty()) {
            throw BinarySources.notFound();
        }
        int size = pageSize(request, count);
        Integer requestedOffset = RestfulServerUtils.tryToExtractNamedParameter(request, Constants.PARAM_OFFSET);
        int offset = requestedOffset == null ? 0 : Math.max(0, requestedOffset);
        List<StoredResource> slice = versions.subList(Math.min(offset, versions.size()),
                Math.min(versions.size(), offset + size));
        return page(wrapAll(slice, request), offset, size, offset + size < versions.size());
    }

    private StoredResource write(Binary binary, RequestDetails request, boolean create) {
        byte[] data = binary.getContent();
        if (data != null && data.length > settings.maxWrappedContent()) {
            throw new InvalidRequestException("Binary.data holds " + data.length + " bytes, more than a FHIR-format"
                    + " Binary may carry here (" + settings.maxWrappedContent() + "); send the content raw.");
        }
        String filename = DownloadHeaders.filenameFromRequest(request.getHeader(Constants.HEADER_CONTENT_DISPOSITION));
        StagedContent content = store.binaries().stage(data == null ? new byte[0] : data);
        binary.setContent(null);
        return BinaryWrites.write(content,
                () -> create ? store.create(binary, content, filename) : store.update(binary, content, filename));
    }

    private static MethodOutcome outcome(Binary binary, StoredResource stored, boolean created) {
        IdType id = new IdType("Binary", stored.id(), Long.toString(stored.version()));
        binary.setId(id);
        MethodOutcome outcome = new MethodOutcome(id, created);
        // The answer carries the Binary without its data: the content may be large, and the client has it.
        outcome.setResource(binary);
        return outcome;
    }

    private List<IBaseResource> wrapAll(List<StoredResource> found, RequestDetails request) {
        boolean withData = wantsData(request);
        List<IBaseResource> result = new ArrayList<>(found.size());
        long total = 0;
        for (StoredResource stored : found) {
            if (stored.deleted()) {
                result.add(deletionMarker(stored));
                continue;
            }
            BinaryDocument document = source.find(stored.id(), stored.version()).orElse(null);
            if (document == null || document.deleted()) {
                continue; // deleted between the search and now
            }
            Binary binary = toResource(document);
            if (withData) {
                total += document.content().size();
                if (total > settings.maxWrappedContent()) {
                    throw OperationOutcomes.status(406, "too-costly", "The Binaries of this page hold more than "
                            + settings.maxWrappedContent() + " bytes of content together, more than this server sends"
                            + " base64-encoded. Ask for fewer at a time (_count), leave the content out"
                            + " (_elements=contentType or _summary=true), or read each one natively.");
                }
                binary.setData(readAll(document));
            }
            result.add(binary);
        }
        return result;
    }

    private IBaseResource deletionMarker(StoredResource version) {
        Binary marker = new Binary();
        marker.setId(new IdType("Binary", version.id(), Long.toString(version.version())));
        marker.getMeta().setVersionId(Long.toString(version.version()));
        marker.getMeta().setLastUpdated(Date.from(version.lastUpdated()));
        ResourceMetadataKeyEnum.DELETED_AT.put(marker, new InstantType(Date.from(version.lastUpdated())));
        ResourceMetadataKeyEnum.ENTRY_TRANSACTION_METHOD.put(marker, BundleEntryTransactionMethodEnum.DELETE);
        return marker;
    }

    /** The stored resource (without data), or one built from the fields for sources that keep none. */
    private Binary toResource(BinaryDocument document) {
        Binary binary;
        if (document.json() != null) {
            binary = context.newJsonParser().parseResource(Binary.class,
                    new String(document.json(), StandardCharsets.UTF_8));
        } else {
            binary = new Binary();
            binary.setContentType(document.contentType());
            if (document.securityContext() != null) {
                binary.setSecurityContext(new Reference(document.securityContext()));
            }
            binary.getMeta().setVersionId(Long.toString(document.version()));
            binary.getMeta().setLastUpdated(Date.from(document.lastUpdated()));
        }
        binary.setId(new IdType("Binary", document.id(), Long.toString(document.version())));
        return binary;
    }

    private static byte[] readAll(BinaryDocument document) {
        try {
            return document.content().size() == 0 ? null : document.content().readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("Could not read the content of Binary/" + document.id(), e);
        }
    }

    /**
     * Whether the answer will include {@code data}: not for {@code _summary=true|text|count} (data is
     * not a summary element), nor for {@code _elements} lists without it. Then no content is loaded
     * and the size cap does not apply.
     */
    static boolean wantsData(RequestDetails request) {
        Set<SummaryEnum> summary = RestfulServerUtils.determineSummaryMode(request);
        if (summary.contains(SummaryEnum.TRUE) || summary.contains(SummaryEnum.TEXT)
                || summary.contains(SummaryEnum.COUNT)) {
            return false;
        }
        Set<String> elements = ElementsParameter.getElementsValueOrNull(request, false);
        if (elements != null && !elements.contains("data") && !elements.contains("Binary.data")
                && !elements.contains("*")) {
            return false;
        }
        Set<String> excluded = ElementsParameter.getElementsValueOrNull(request, true);
        return excluded == null || !(excluded.contains("data") || excluded.contains("Binary.data"));
    }

    private static int pageSize(RequestDetails request, Integer count) {
        IPagingProvider paging = request.getServer().getPagingProvider();
        int fallback = paging != null ? Math.min(paging.getDefaultPageSize(), MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
        if (count == null || count <= 0) {
            return fallback;
        }
        return Math.min(count, MAX_PAGE_SIZE);
    }

    /** A page that HAPI links to its neighbours with _offset/_count, back to this provider. */
    private static IBundleProvider page(List<IBaseResource> resources, int offset, int size, boolean more) {
        SimpleBundleProvider page = new SimpleBundleProvider(resources) {
            @Override
            public String getNextPageId() {
                return more ? "next" : null;
            }

            @Override
            public String getPreviousPageId() {
                return offset > 0 ? "previous" : null;
            }

            @Override
            public Integer size() {
                return null; // unknown without counting every match
            }
        };
        page.setCurrentPageOffset(offset);
        page.setCurrentPageSize(size);
        return page;
    }
}
