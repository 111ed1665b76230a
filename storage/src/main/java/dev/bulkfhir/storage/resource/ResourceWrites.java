package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.util.BinaryUtil;
import ca.uhn.fhir.util.FhirTerser;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.binary.StagedContent;
import org.hl7.fhir.instance.model.api.IBase;
import org.hl7.fhir.instance.model.api.IBaseBinary;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The writes of one transaction of a {@link ResourceStore} ({@link ResourceStore#inTransaction}). All of
 * them carry the transaction's lastUpdated; their SQL is {@link ResourceTables}'.
 */
public final class ResourceWrites {

    /** An attachment url that points at a Binary of this server: Binary/[id], relative or absolute. */
    private static final Pattern BINARY_URL = Pattern.compile("(?:.*/)?Binary/([A-Za-z0-9\\-.]{1,64})(?:/_history/[0-9]+)?");

    private final FhirContext context;
    private final PatientCompartment compartment;
    private final BinaryStore binaries;
    private final Connection connection;
    private final Instant now;
    private final IParser parser;
    /** Content given with a Binary instead of Binary.data, until the Binary is written. */
    private final Map<IBaseResource, BinaryUpload> uploads = new IdentityHashMap<>();
    /** The JSON a resource was parsed from, to be stored instead of encoding the resource. */
    private final Map<IBaseResource, SourceJson> sources = new IdentityHashMap<>();
    /** Content this transaction staged from Binary.data: to be discarded if it rolls back. */
    private final List<StagedContent> staged = new ArrayList<>();

    ResourceWrites(ResourceStore store, Connection connection, Instant now) {
        this.context = store.context();
        this.compartment = store.compartment();
        this.binaries = store.binaries();
        this.connection = connection;
        this.now = now;
        this.parser = context.newJsonParser();
    }

    /** Makes the next write of {@code binary} in this transaction store {@code content} as its data. */
    public <B extends IBaseBinary> B withContent(B binary, StagedContent content, String filename) {
        uploads.put(binary, new BinaryUpload(content, filename));
        return binary;
    }

    /**
     * Makes the writes of {@code resource} in this transaction store {@code source} (with the
     * server's id and meta) rather than a new encoding of the resource. The caller vouches that
     * the resource was parsed from exactly that JSON and not changed since, but for its id. If the
     * source carries its {@linkplain SourceJson#patients() patients}, only the type and id of the
     * resource are used (but for a Binary or DocumentReference, whose content is looked into).
     */
    public void withSource(IBaseResource resource, SourceJson source) {
        sources.put(resource, source);
    }

    void discardStagedContent() {
        staged.forEach(StagedContent::discard);
    }

    public Instant lastUpdated() {
        return now;
    }

    /** Stores a new resource under a new server-assigned id (any id it carries is replaced). */
    public StoredResource create(IBaseResource resource) throws SQLException {
        String type = context.getResourceType(resource);
        resource.setId(type + "/" + ResourceStore.newId());
        return insertBatch(List.of(resource)).get(0);
    }

    /**
     * Stores resources that are new by construction (ids the server just generated) in one
     * batch, skipping the per-resource existence check.
     */
    public List<StoredResource> createAllNew(List<? extends IBaseResource> resources) throws SQLException {
        for (IBaseResource resource : resources) {
            ResourceStore.requireWritableId(context.getResourceType(resource), resource.getIdElement().getIdPart());
        }
        return insertBatch(new ArrayList<>(resources));
    }

    /** Stores the resource under its own id: a new version, or version 1 if it is new. */
    public StoredResource update(IBaseResource resource) throws SQLException {
        String type = context.getResourceType(resource);
        String id = resource.getIdElement().getIdPart();
        ResourceStore.requireWritableId(type, id);
        ResourceTables.Current current = ResourceTables.lockCurrent(connection, type, id);
        if (current == null) {
            return insertBatch(List.of(resource)).get(0);
        }
        return replace(current, resource, type, id);
    }

    /** Marks the resource deleted; empty if it never existed. Deleting twice is harmless. */
    public Optional<StoredResource> delete(String type, String id) throws SQLException {
        ResourceTables.Current current = ResourceTables.lockCurrent(connection, type, id);
        if (current == null) {
            return Optional.empty();
        }
        if (current.deleted()) {
            return Optional.of(new StoredResource(type, id, current.version(), current.lastUpdated(), true, null));
        }
        ResourceTables.moveToHistory(connection, current.pk());
        long version = current.version() + 1;
        ResourceTables.markDeleted(connection, current.pk(), version, now);
        ResourceTables.replacePatients(connection, current.pk(), current.patients(), Set.of());
        if (type.equals("DocumentReference")) {
            binaries.replaceTitles(connection, id, Map.of());
        }
        return Optional.of(new StoredResource(type, id, version, now, true, null));
    }

    /** Reads the current version inside this transaction (sees its own writes). */
    public Optional<StoredResource> read(String type, String id) throws SQLException {
        return ResourceTables.current(connection, type, id);
    }

    int writeAll(List<? extends IBaseResource> resources) throws SQLException {
        // Split into first-time inserts (batched) and everything else (one by one).
        Map<String, IBaseResource> fresh = new LinkedHashMap<>();
        List<IBaseResource> others = new ArrayList<>();
        Map<String, List<String>> idsByType = new HashMap<>();
        for (IBaseResource resource : resources) {
            String type = context.getResourceType(resource);
            if (!resource.getIdElement().hasIdPart()) {
                resource.setId(type + "/" + ResourceStore.newId());
            }
            String id = resource.getIdElement().getIdPart();
            ResourceStore.requireWritableId(type, id);
            String key = type + "/" + id;
            if (fresh.containsKey(key)) {
                others.add(resource);
            } else {
                fresh.put(key, resource);
                idsByType.computeIfAbsent(type, t -> new ArrayList<>()).add(id);
            }
        }
        for (String existing : ResourceTables.existingKeys(connection, idsByType)) {
            others.add(0, fresh.remove(existing));
        }
        insertBatch(new ArrayList<>(fresh.values()));
        for (IBaseResource resource : others) {
            update(resource);
        }
        return resources.size();
    }

    private List<StoredResource> insertBatch(List<IBaseResource> resources) throws SQLException {
        if (resources.isEmpty()) {
            return List.of();
        }
        List<StoredResource> stored = new ArrayList<>(resources.size());
        List<Set<String>> patients = new ArrayList<>(resources.size());
        Map<String, BinaryRow> contents = new LinkedHashMap<>();
        List<Object[]> rows = new ArrayList<>(resources.size());
        for (IBaseResource resource : resources) {
            String type = context.getResourceType(resource);
            String id = resource.getIdElement().getIdPart();
            BinaryRow content = takeContent(resource);
            StoredResource version = stamp(resource, type, id, 1);
            if (content != null) {
                // The caller still owns the resource: it gets its data back.
                ((IBaseBinary) resource).setContent(content.data());
                contents.put(id, content);
            }
            stored.add(version);
            Set<String> owners = patientIds(resource);
            patients.add(owners);
            rows.add(new Object[] {type, id, now.toEpochMilli(), version.json(), ResourceTables.patientsColumn(owners)});
        }
        List<Long> keys = ResourceTables.insertNew(connection, rows);
        ResourceTables.insertPatients(connection, keys, patients);
        for (Map.Entry<String, BinaryRow> content : contents.entrySet()) {
            insertContent(content.getValue(), content.getKey(), 1);
        }
        for (IBaseResource resource : resources) {
            recordTitles(resource, false);
        }
        return stored;
    }

    private StoredResource replace(ResourceTables.Current current, IBaseResource resource, String type, String id)
            throws SQLException {
        ResourceTables.moveToHistory(connection, current.pk());
        BinaryRow content = takeContent(resource);
        StoredResource version = stamp(resource, type, id, current.version() + 1);
        Set<String> owners = patientIds(resource);
        ResourceTables.replace(connection, current.pk(), version.version(), now, version.json(), owners);
        if (content != null) {
            ((IBaseBinary) resource).setContent(content.data());
            insertContent(content, id, version.version());
        }
        recordTitles(resource, true);
        ResourceTables.replacePatients(connection, current.pk(), current.patients(), owners);
        return version;
    }

    /**
     * For a Binary: the content to store for it (given with {@link #withContent}, or staged from
     * Binary.data, which is cleared so that the JSON is encoded without it). Null otherwise.
     */
    private BinaryRow takeContent(IBaseResource resource) {
        if (!(resource instanceof IBaseBinary binary)) {
            return null;
        }
        String contentType = binary.getContentType();
        if (!BinaryStore.isValidContentType(contentType)) {
            throw new InvalidResourceException("Binary.contentType must be a media type such as application/pdf"
                    + " (at most 255 characters), not " + (contentType == null ? "missing" : "'" + contentType + "'"));
        }
        String securityContext = binarySecurityContext(binary);
        if (securityContext != null && securityContext.length() > 1024) {
            throw new InvalidResourceException("Binary.securityContext.reference is longer than 1024 characters");
        }
        BinaryUpload upload = uploads.remove(binary);
        byte[] data = binary.getContent();
        if (upload == null) {
            StagedContent content = binaries.stage(data == null ? new byte[0] : data);
            staged.add(content);
            upload = new BinaryUpload(content, null);
        }
        binary.setContent(null);
        return new BinaryRow(upload, contentType, securityContext, data);
    }

    private void insertContent(BinaryRow row, String id, long version) throws SQLException {
        binaries.insert(connection, id, version, row.contentType(), row.securityContext(),
                row.upload().filename(), row.upload().content());
    }

    private String binarySecurityContext(IBaseBinary binary) {
        var reference = BinaryUtil.getSecurityContext(context, binary);
        return reference == null ? null : reference.getReferenceElement().getValue();
    }

    /** DocumentReference attachment titles become download names of the Binaries they point at. */
    private void recordTitles(IBaseResource resource, boolean replacing) throws SQLException {
        if (!"DocumentReference".equals(context.getResourceType(resource))) {
            return;
        }
        FhirTerser terser = context.newTerser();
        Map<String, String> titles = new LinkedHashMap<>();
        for (IBase attachment : terser.getValues(resource, "DocumentReference.content.attachment")) {
            String url = terser.getSinglePrimitiveValueOrNull(attachment, "url");
            String title = terser.getSinglePrimitiveValueOrNull(attachment, "title");
            Matcher binary = url == null ? null : BINARY_URL.matcher(url);
            if (title != null && !title.isBlank() && binary != null && binary.matches()) {
                titles.putIfAbsent(binary.group(1), title.length() > 255 ? title.substring(0, 255) : title);
            }
        }
        if (replacing || !titles.isEmpty()) {
            binaries.replaceTitles(connection, resource.getIdElement().getIdPart(), titles);
        }
    }

    /** The patient compartments of the resource: given with its source, or worked out now. */
    private Set<String> patientIds(IBaseResource resource) {
        SourceJson source = sources.get(resource);
        return source != null && source.patients() != null ? source.patients() : compartment.patientIds(resource);
    }

    /** Sets the server's id, version and lastUpdated on the resource and encodes it. */
    private StoredResource stamp(IBaseResource resource, String type, String id, long version) {
        resource.setId(type + "/" + id);
        resource.getMeta().setVersionId(Long.toString(version));
        resource.getMeta().setLastUpdated(Date.from(now));
        SourceJson source = sources.get(resource);
        byte[] json;
        if (source != null && !(resource instanceof IBaseBinary) && source.resourceType().equals(type)
                && resource.getMeta() instanceof org.hl7.fhir.r4.model.Meta meta) {
            // As HAPI writes it: a lastUpdated the source had keeps its precision and time zone.
            json = source.stamp(id, version, meta.getLastUpdatedElement().getValueAsString());
        } else {
            json = parser.encodeResourceToString(resource).getBytes(StandardCharsets.UTF_8);
            String tooLong = JsonNumbers.findTooLong(json, 0, json.length);
            if (tooLong != null) {
                throw new InvalidResourceException(tooLong);
            }
        }
        IIdType versioned = resource.getIdElement().withVersion(Long.toString(version));
        resource.setId(versioned);
        return new StoredResource(type, id, version, now, false, json);
    }

    private record BinaryUpload(StagedContent content, String filename) {}

    /** A Binary version's content on its way into the BinaryStore; {@code data} is the caller's own. */
    private record BinaryRow(BinaryUpload upload, String contentType, String securityContext, byte[] data) {}
}
