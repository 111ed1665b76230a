package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.util.BinaryUtil;
import ca.uhn.fhir.util.FhirTerser;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.binary.StagedContent;
import dev.bulkfhir.storage.export.ExportFileStore;
import org.hl7.fhir.instance.model.api.IBase;
import org.hl7.fhir.instance.model.api.IBaseBinary;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The built-in resource store: every R4 resource type in three tables (current versions,
 * older versions, patient compartment membership). Plain JDBC, because the load and export
 * paths move millions of rows and must stream bytes without an ORM in between.
 *
 * <p>Every write runs in a transaction through {@link Writes}; the server owns version ids and
 * lastUpdated, which are written into the stored JSON so that it can be served as it is.
 *
 * <p>A Binary's content never stays in its JSON: every write path moves {@code Binary.data} into the
 * {@link BinaryStore} (as bytes, inline or in the file store) in the same transaction, so the stored
 * JSON of a Binary has no {@code data}; read the content through {@link #binaries()}.
 */
public final class ResourceStore {

    /** Rows per multi-row INSERT (PostgreSQL takes at most 32,767 parameters a statement). */
    private static final int ROWS_PER_INSERT = 500;
    /** Rows of a _lastUpdated search above which walking the type beats sorting the range. */
    private static final int SORTED_UPDATED_RANGE = 5_000;
    /** Matches per page when a count has to test each candidate. */
    private static final int COUNTING_PAGE = 1_000;

    private final DataSource dataSource;
    private final FhirContext context;
    private final PatientCompartment compartment;
    private final BinaryStore binaries;
    private final WritesInFlight writesInFlight = new WritesInFlight();

    /** A store that keeps all Binary content in the database (no file store). */
    public ResourceStore(DataSource dataSource, FhirContext context) {
        this(dataSource, context, BinaryStore.inDatabase(dataSource));
    }

    public ResourceStore(DataSource dataSource, FhirContext context, BinaryStore binaries) {
        this.dataSource = dataSource;
        this.context = context;
        this.compartment = new PatientCompartment(context);
        this.binaries = binaries;
    }

    public FhirContext context() {
        return context;
    }

    /** The lastUpdated stamps of this store's open write transactions: what an export's transaction time waits for. */
    public WritesInFlight writesInFlight() {
        return writesInFlight;
    }

    /** Where Binary content lives; the stored JSON of a Binary has no {@code data}. */
    public BinaryStore binaries() {
        return binaries;
    }

    /** Whether the id is as FHIR R4 allows: 1 to 64 of [A-Za-z0-9-.]. (Checked for every write; no regex.) */
    public static boolean isValidId(String id) {
        if (id == null || id.isEmpty() || id.length() > 64) return false;
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
                return false;
            }
        }
        return true;
    }

    /** Work inside one database transaction; all of it commits, or none. */
    @FunctionalInterface
    public interface TransactionWork<T> {
        T run(Writes writes) throws SQLException;
    }

    public <T> T inTransaction(TransactionWork<T> work) {
        try (Connection connection = dataSource.getConnection()) {
            connection.setAutoCommit(false);
            // Stamped when the transaction starts, and open until it ends: see WritesInFlight.
            Instant stamp = writesInFlight.begin();
            Writes writes = new Writes(connection, stamp);
            try {
                T result = work.run(writes);
                connection.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                try {
                    connection.rollback();
                } finally {
                    writes.discardStagedContent();
                }
                throw e;
            } finally {
                writesInFlight.end(stamp);
                connection.setAutoCommit(true);
            }
        } catch (SQLException e) {
            if (isConflict(e)) {
                throw new WriteConflictException("A concurrent write to the same resource won; retry", e);
            }
            throw new StorageException("Database write failed: " + e.getMessage(), e);
        }
    }

    /** Unique key violations, lock time-outs, deadlocks and serialization failures. */
    private static boolean isConflict(SQLException e) {
        String state = e.getSQLState();
        return state != null && (state.startsWith("23") || state.equals("HYT00") || state.startsWith("40"));
    }

    public StoredResource create(IBaseResource resource) {
        return inTransaction(writes -> writes.create(resource));
    }

    public StoredResource update(IBaseResource resource) {
        return inTransaction(writes -> writes.update(resource));
    }

    public Optional<StoredResource> delete(String type, String id) {
        return inTransaction(writes -> writes.delete(type, id));
    }

    /**
     * Creates a Binary whose content is {@code content} (staged through {@link #binaries()}, e.g.
     * streamed from a request) rather than {@code Binary.data}. The caller discards the content if
     * this throws.
     *
     * @param filename a download name for the content, or null
     */
    public StoredResource create(IBaseBinary binary, StagedContent content, String filename) {
        return inTransaction(writes -> writes.create(writes.withContent(binary, content, filename)));
    }

    /** Like {@link #update(IBaseResource)}, with the content given as for {@link #create(IBaseBinary, StagedContent, String)}. */
    public StoredResource update(IBaseBinary binary, StagedContent content, String filename) {
        return inTransaction(writes -> writes.update(writes.withContent(binary, content, filename)));
    }

    /**
     * Stores many resources in one transaction, each as a create-or-update of its own id (a
     * resource without one gets a new id). This is the loader's path: new resources are inserted
     * in JDBC batches.
     *
     * @return the number of resources written
     */
    public int writeAll(List<? extends IBaseResource> resources) {
        return inTransaction(writes -> writes.writeAll(resources));
    }

    /**
     * Like {@link #writeAll(List)}, for resources parsed from JSON: {@code sources.get(i)}, where not
     * null, is the JSON {@code resources.get(i)} was parsed from, and is stored (with the server's id
     * and meta) instead of a new encoding of the resource.
     */
    public int writeAll(List<? extends IBaseResource> resources, List<SourceJson> sources) {
        if (sources.size() != resources.size()) {
            throw new IllegalArgumentException(resources.size() + " resources but " + sources.size() + " sources");
        }
        return inTransaction(writes -> {
            for (int i = 0; i < resources.size(); i++) {
                if (sources.get(i) != null) writes.withSource(resources.get(i), sources.get(i));
            }
            return writes.writeAll(resources);
        });
    }

    public boolean isEmpty() {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement statement = connection.prepareStatement("SELECT 1 FROM bf_resource LIMIT 1");
                ResultSet rows = statement.executeQuery()) {
            return !rows.next();
        } catch (SQLException e) {
            throw new StorageException("Database read failed: " + e.getMessage(), e);
        }
    }

    /** The current version, which may be a deletion; empty if the resource never existed. */
    public Optional<StoredResource> read(String type, String id) {
        return query("SELECT res_type, res_id, version, last_updated, deleted, json FROM bf_resource"
                + " WHERE res_type = ? AND res_id = ?", type, id).stream().findFirst();
    }

    public Optional<StoredResource> vread(String type, String id, long version) {
        Optional<StoredResource> current = read(type, id);
        if (current.isEmpty() || current.get().version() == version) {
            return current;
        }
        return query("SELECT res_type, res_id, version, last_updated, deleted, json FROM bf_resource_history"
                + " WHERE res_type = ? AND res_id = ? AND version = ?", type, id, version).stream().findFirst();
    }

    /** All versions, newest first. */
    public List<StoredResource> history(String type, String id) {
        List<StoredResource> versions = new ArrayList<>(query(
                "SELECT res_type, res_id, version, last_updated, deleted, json FROM bf_resource"
                        + " WHERE res_type = ? AND res_id = ?", type, id));
        if (versions.isEmpty()) {
            return versions;
        }
        versions.addAll(query("SELECT res_type, res_id, version, last_updated, deleted, json FROM bf_resource_history"
                + " WHERE res_type = ? AND res_id = ? ORDER BY version DESC", type, id));
        return versions;
    }

    public SearchPage search(ResourceQuery query) {
        boolean forward = query.cursor() == null || query.cursor().forward();
        List<Long> keys = new ArrayList<>();
        List<StoredResource> matches = new ArrayList<>();
        Long boundary = query.cursor() == null ? null : query.cursor().key();
        // Candidates come from the indexes in chunks; the filter may reject some of them.
        int chunk = Math.max(query.count() + 1, 50);
        boolean typeWalk = query.patientId() == null && (query.ids() == null || query.ids().isEmpty())
                && (query.updatedFrom() == null && query.updatedBefore() == null || manyUpdatedIn(query));
        // A _lastUpdated range that holds many rows is walked in pk order too, the range a filter;
        // a narrow one is read from the (res_type, last_updated) index and sorted.
        String lastUpdated = typeWalk ? "(r.last_updated + 0)" : "r.last_updated";
        boolean exhausted = false;
        while (matches.size() <= query.count() && !exhausted) {
            List<Object> params = new ArrayList<>();
            StringBuilder sql = new StringBuilder(
                    "SELECT r.pk, r.res_type, r.res_id, r.version, r.last_updated, r.deleted, r.json FROM bf_resource r");
            appendWhere(query, lastUpdated, boundary, forward, sql, params);
            // A walk of the whole type names the (res_type, pk) index's own order: given ORDER BY pk
            // alone, H2 sorts every row of the type for each page.
            String order = typeWalk ? (forward ? "r.res_type, r.pk" : "r.res_type DESC, r.pk DESC")
                    : (forward ? "r.pk" : "r.pk DESC");
            sql.append(" ORDER BY ").append(order).append(" LIMIT ").append(chunk);
            int fetched = 0;
            try (Connection connection = dataSource.getConnection();
                    PreparedStatement statement = connection.prepareStatement(sql.toString())) {
                bind(statement, params.toArray());
                try (ResultSet rows = statement.executeQuery()) {
                    while (rows.next()) {
                        fetched++;
                        boundary = rows.getLong(1);
                        StoredResource resource = readRow(rows, 2);
                        if (matches.size() <= query.count() && (query.filter() == null || query.filter().test(resource))) {
                            matches.add(resource);
                            keys.add(boundary);
                        }
                    }
                }
            } catch (SQLException e) {
                throw new StorageException("Search failed: " + e.getMessage(), e);
            }
            exhausted = fetched < chunk;
        }
        boolean more = matches.size() > query.count();
        if (more) {
            matches.remove(matches.size() - 1);
            keys.remove(keys.size() - 1);
        }
        if (!forward) {
            Collections.reverse(matches);
            Collections.reverse(keys);
        }
        ResourceQuery.Cursor next = null;
        ResourceQuery.Cursor previous = null;
        if (!keys.isEmpty()) {
            boolean hasNext = forward ? more : true;
            boolean hasPrevious = forward ? query.cursor() != null : more;
            if (hasNext) next = new ResourceQuery.Cursor(true, keys.get(keys.size() - 1));
            if (hasPrevious) previous = new ResourceQuery.Cursor(false, keys.get(0));
        } else if (query.cursor() != null) {
            // An empty page past either end still leads back to where the client came from.
            previous = forward ? new ResourceQuery.Cursor(false, query.cursor().key()) : null;
            next = forward ? null : new ResourceQuery.Cursor(true, query.cursor().key());
        }
        return new SearchPage(matches, next, previous);
    }

    /**
     * How many resources the query finds on all its pages (its page size and cursor play no part).
     * Without a filter this is one SQL COUNT on the search's indexes, which reads each candidate row
     * but no JSON into Java (the indexes do not hold {@code deleted}); with a filter, every candidate
     * is read and tested, page by page.
     */
    public long count(ResourceQuery query) {
        if (query.filter() != null) {
            long total = 0;
            ResourceQuery page = new ResourceQuery(query.type(), query.ids(), query.updatedFrom(),
                    query.updatedBefore(), query.patientId(), query.filter(), COUNTING_PAGE, null);
            while (true) {
                SearchPage found = search(page);
                total += found.resources().size();
                if (found.next() == null) return total;
                page = page.withCursor(found.next());
            }
        }
        List<Object> params = new ArrayList<>();
        StringBuilder sql = new StringBuilder("SELECT COUNT(*) FROM bf_resource r");
        appendWhere(query, "r.last_updated", null, true, sql, params);
        try (Connection connection = dataSource.getConnection();
                PreparedStatement statement = connection.prepareStatement(sql.toString())) {
            bind(statement, params.toArray());
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        } catch (SQLException e) {
            throw new StorageException("Count failed: " + e.getMessage(), e);
        }
    }

    /** The query's conditions on {@code bf_resource r}, from the row after (or before) {@code boundary} on. */
    private static void appendWhere(ResourceQuery query, String lastUpdated, Long boundary, boolean forward,
            StringBuilder sql, List<Object> params) {
        sql.append(" WHERE r.res_type = ? AND r.deleted = FALSE");
        params.add(query.type());
        if (query.patientId() != null) {
            // The patient's rows first, the cursor among them: given "r.pk > ?" beside it, H2
            // walks the primary key from the cursor and tests every row of the table.
            sql.append(" AND r.pk IN (SELECT p.resource_pk FROM bf_resource_patient p WHERE p.patient_id = ?");
            params.add(query.patientId());
            if (boundary != null) {
                sql.append(forward ? " AND p.resource_pk > ?" : " AND p.resource_pk < ?");
                params.add(boundary);
            }
            sql.append(")");
        }
        if (query.ids() != null && !query.ids().isEmpty()) {
            sql.append(" AND r.res_id IN (").append(String.join(",", Collections.nCopies(query.ids().size(), "?")))
                    .append(")");
            params.addAll(query.ids());
        }
        appendUpdatedRange(query, lastUpdated, sql, params);
        if (boundary != null && query.patientId() == null) {
            sql.append(forward ? " AND r.pk > ?" : " AND r.pk < ?");
            params.add(boundary);
        }
    }

    /** Whether the type has more than {@link #SORTED_UPDATED_RANGE} rows in the query's _lastUpdated range. */
    private boolean manyUpdatedIn(ResourceQuery query) {
        StringBuilder sql = new StringBuilder("SELECT COUNT(*) FROM (SELECT 1 FROM bf_resource WHERE res_type = ?");
        List<Object> params = new ArrayList<>(List.of(query.type()));
        appendUpdatedRange(query, "last_updated", sql, params);
        sql.append(" LIMIT ").append(SORTED_UPDATED_RANGE + 1).append(") t");
        try (Connection connection = dataSource.getConnection();
                PreparedStatement statement = connection.prepareStatement(sql.toString())) {
            bind(statement, params.toArray());
            try (ResultSet rows = statement.executeQuery()) {
                return rows.next() && rows.getLong(1) > SORTED_UPDATED_RANGE;
            }
        } catch (SQLException e) {
            throw new StorageException("Search failed: " + e.getMessage(), e);
        }
    }

    /** The query's _lastUpdated bounds as conditions on {@code column}, with their parameters. */
    private static void appendUpdatedRange(ResourceQuery query, String column, StringBuilder sql, List<Object> params) {
        if (query.updatedFrom() != null) {
            sql.append(" AND ").append(column).append(" >= ?");
            params.add(query.updatedFrom().toEpochMilli());
        }
        if (query.updatedBefore() != null) {
            sql.append(" AND ").append(column).append(" < ?");
            params.add(query.updatedBefore().toEpochMilli());
        }
    }

    private List<StoredResource> query(String sql, Object... params) {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement statement = connection.prepareStatement(sql)) {
            bind(statement, params);
            List<StoredResource> result = new ArrayList<>();
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    result.add(readRow(rows, 1));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new StorageException("Database read failed: " + e.getMessage(), e);
        }
    }

    private static StoredResource readRow(ResultSet rows, int first) throws SQLException {
        return new StoredResource(
                rows.getString(first),
                rows.getString(first + 1),
                rows.getLong(first + 2),
                Instant.ofEpochMilli(rows.getLong(first + 3)),
                rows.getBoolean(first + 4),
                rows.getBytes(first + 5));
    }

    private static void bind(PreparedStatement statement, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            statement.setObject(i + 1, params[i]);
        }
    }

    /** The writes of one transaction. All of them carry the transaction's lastUpdated. */
    public final class Writes {

        private final Connection connection;
        private final Instant now;
        private final IParser parser;
        /** Content given with a Binary instead of Binary.data, until the Binary is written. */
        private final Map<IBaseResource, BinaryUpload> uploads = new IdentityHashMap<>();
        /** The JSON a resource was parsed from, to be stored instead of encoding the resource. */
        private final Map<IBaseResource, SourceJson> sources = new IdentityHashMap<>();
        /** Content this transaction staged from Binary.data: to be discarded if it rolls back. */
        private final List<StagedContent> staged = new ArrayList<>();

        private Writes(Connection connection, Instant now) {
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

        private void discardStagedContent() {
            staged.forEach(StagedContent::discard);
        }

        public Instant lastUpdated() {
            return now;
        }

        /** Stores a new resource under a new server-assigned id (any id it carries is replaced). */
        public StoredResource create(IBaseResource resource) throws SQLException {
            String type = context.getResourceType(resource);
            resource.setId(type + "/" + newId());
            return insertBatch(List.of(resource)).get(0);
        }

        /**
         * Stores resources that are new by construction (ids the server just generated) in one
         * batch, skipping the per-resource existence check.
         */
        public List<StoredResource> createAllNew(List<? extends IBaseResource> resources) throws SQLException {
            for (IBaseResource resource : resources) {
                requireWritableId(context.getResourceType(resource), resource.getIdElement().getIdPart());
            }
            return insertBatch(new ArrayList<>(resources));
        }

        /** Stores the resource under its own id: a new version, or version 1 if it is new. */
        public StoredResource update(IBaseResource resource) throws SQLException {
            String type = context.getResourceType(resource);
            String id = resource.getIdElement().getIdPart();
            requireWritableId(type, id);
            Current current = lockCurrent(type, id);
            if (current == null) {
                return insertBatch(List.of(resource)).get(0);
            }
            return replace(current, resource, type, id);
        }

        /** Marks the resource deleted; empty if it never existed. Deleting twice is harmless. */
        public Optional<StoredResource> delete(String type, String id) throws SQLException {
            Current current = lockCurrent(type, id);
            if (current == null) {
                return Optional.empty();
            }
            if (current.deleted) {
                return Optional.of(new StoredResource(type, id, current.version, current.lastUpdated, true, null));
            }
            moveToHistory(current.pk);
            long version = current.version + 1;
            try (PreparedStatement statement = connection.prepareStatement("UPDATE bf_resource"
                    + " SET version = ?, last_updated = ?, deleted = TRUE, json = NULL, patients = NULL WHERE pk = ?")) {
                bind(statement, version, now.toEpochMilli(), current.pk);
                statement.executeUpdate();
            }
            replacePatients(current.pk, current.patients(), Set.of());
            if (type.equals("DocumentReference")) {
                binaries.replaceTitles(connection, id, Map.of());
            }
            return Optional.of(new StoredResource(type, id, version, now, true, null));
        }

        /** Reads the current version inside this transaction (sees its own writes). */
        public Optional<StoredResource> read(String type, String id) throws SQLException {
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT res_type, res_id, version, last_updated, deleted, json FROM bf_resource"
                            + " WHERE res_type = ? AND res_id = ?")) {
                bind(statement, type, id);
                try (ResultSet rows = statement.executeQuery()) {
                    return rows.next() ? Optional.of(readRow(rows, 1)) : Optional.empty();
                }
            }
        }

        int writeAll(List<? extends IBaseResource> resources) throws SQLException {
            // Split into first-time inserts (batched) and everything else (one by one).
            Map<String, IBaseResource> fresh = new LinkedHashMap<>();
            List<IBaseResource> others = new ArrayList<>();
            Map<String, List<String>> idsByType = new HashMap<>();
            for (IBaseResource resource : resources) {
                String type = context.getResourceType(resource);
                if (!resource.getIdElement().hasIdPart()) {
                    resource.setId(type + "/" + newId());
                }
                String id = resource.getIdElement().getIdPart();
                requireWritableId(type, id);
                String key = type + "/" + id;
                if (fresh.containsKey(key)) {
                    others.add(resource);
                } else {
                    fresh.put(key, resource);
                    idsByType.computeIfAbsent(type, t -> new ArrayList<>()).add(id);
                }
            }
            for (String existing : existingKeys(idsByType)) {
                others.add(0, fresh.remove(existing));
            }
            insertBatch(new ArrayList<>(fresh.values()));
            for (IBaseResource resource : others) {
                update(resource);
            }
            return resources.size();
        }

        private Set<String> existingKeys(Map<String, List<String>> idsByType) throws SQLException {
            Set<String> existing = new HashSet<>();
            for (Map.Entry<String, List<String>> entry : idsByType.entrySet()) {
                List<String> ids = entry.getValue();
                for (int from = 0; from < ids.size(); from += 500) {
                    List<String> slice = ids.subList(from, Math.min(ids.size(), from + 500));
                    // Row values, so that H2 seeks the (res_type, res_id) index instead of scanning
                    // every row of the type: a plain "res_id IN" slowed loads as the table grew.
                    String sql = "SELECT res_id FROM bf_resource WHERE (res_type, res_id) IN ("
                            + String.join(",", Collections.nCopies(slice.size(), "(?, ?)")) + ")";
                    try (PreparedStatement statement = connection.prepareStatement(sql)) {
                        for (int i = 0; i < slice.size(); i++) {
                            statement.setString(2 * i + 1, entry.getKey());
                            statement.setString(2 * i + 2, slice.get(i));
                        }
                        try (ResultSet rows = statement.executeQuery()) {
                            while (rows.next()) {
                                existing.add(entry.getKey() + "/" + rows.getString(1));
                            }
                        }
                    }
                }
            }
            return existing;
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
                rows.add(new Object[] {type, id, now.toEpochMilli(), version.json(), patientsColumn(owners)});
            }
            List<Long> keys = insertRows("bf_resource (res_type, res_id, version, last_updated, deleted, json, patients)",
                    "(?, ?, 1, ?, FALSE, ?, ?)", rows, true);
            insertPatients(keys, patients);
            for (Map.Entry<String, BinaryRow> content : contents.entrySet()) {
                insertContent(content.getValue(), content.getKey(), 1);
            }
            for (IBaseResource resource : resources) {
                recordTitles(resource, false);
            }
            return stored;
        }

        private StoredResource replace(Current current, IBaseResource resource, String type, String id)
                throws SQLException {
            moveToHistory(current.pk);
            BinaryRow content = takeContent(resource);
            StoredResource version = stamp(resource, type, id, current.version + 1);
            Set<String> owners = patientIds(resource);
            try (PreparedStatement statement = connection.prepareStatement("UPDATE bf_resource"
                    + " SET version = ?, last_updated = ?, deleted = FALSE, json = ?, patients = ? WHERE pk = ?")) {
                bind(statement, version.version(), now.toEpochMilli(), version.json(), patientsColumn(owners), current.pk);
                statement.executeUpdate();
            }
            if (content != null) {
                ((IBaseBinary) resource).setContent(content.data());
                insertContent(content, id, version.version());
            }
            recordTitles(resource, true);
            replacePatients(current.pk, current.patients(), owners);
            return version;
        }

        /** Replaces the resource's compartment rows: only those that change are written. */
        private void replacePatients(long pk, Set<String> before, Set<String> after) throws SQLException {
            List<String> gone = before.stream().filter(id -> !after.contains(id)).toList();
            if (!gone.isEmpty()) {
                try (PreparedStatement statement = connection.prepareStatement(
                        "DELETE FROM bf_resource_patient WHERE patient_id = ? AND resource_pk = ?")) {
                    for (String patientId : gone) {
                        bind(statement, patientId, pk);
                        statement.addBatch();
                    }
                    statement.executeBatch();
                }
            }
            Set<String> added = new LinkedHashSet<>(after);
            added.removeAll(before);
            insertPatients(List.of(pk), List.of(added));
        }

        private void insertPatients(List<Long> keys, List<Set<String>> patients) throws SQLException {
            List<Object[]> rows = new ArrayList<>(keys.size());
            for (int i = 0; i < keys.size(); i++) {
                for (String patientId : patients.get(i)) {
                    rows.add(new Object[] {patientId, keys.get(i)});
                }
            }
            insertRows("bf_resource_patient (patient_id, resource_pk)", "(?, ?)", rows, false);
        }

        /**
         * Inserts rows with multi-row INSERT statements: one statement per few hundred rows costs the
         * database less than a JDBC batch, which it executes as one statement per row.
         *
         * @return the generated primary keys, in the order of the rows, if asked for; else empty
         */
        private List<Long> insertRows(String table, String row, List<Object[]> rows, boolean generatedKeys)
                throws SQLException {
            List<Long> keys = new ArrayList<>(generatedKeys ? rows.size() : 0);
            for (int from = 0; from < rows.size(); from += ROWS_PER_INSERT) {
                List<Object[]> slice = rows.subList(from, Math.min(rows.size(), from + ROWS_PER_INSERT));
                String sql = "INSERT INTO " + table + " VALUES " + String.join(", ", Collections.nCopies(slice.size(), row));
                try (PreparedStatement statement = generatedKeys
                        ? connection.prepareStatement(sql, new String[] {"pk"}) : connection.prepareStatement(sql)) {
                    int parameter = 1;
                    for (Object[] values : slice) {
                        for (Object value : values) {
                            statement.setObject(parameter++, value);
                        }
                    }
                    statement.executeUpdate();
                    if (generatedKeys) {
                        try (ResultSet generated = statement.getGeneratedKeys()) {
                            while (generated.next()) {
                                keys.add(generated.getLong(1));
                            }
                        }
                    }
                }
            }
            if (generatedKeys && keys.size() != rows.size()) {
                throw new SQLException("Expected " + rows.size() + " generated keys, got " + keys.size());
            }
            return keys;
        }

        private void moveToHistory(long pk) throws SQLException {
            try (PreparedStatement statement = connection.prepareStatement(
                    "INSERT INTO bf_resource_history (res_type, res_id, version, last_updated, deleted, json)"
                            + " SELECT res_type, res_id, version, last_updated, deleted, json FROM bf_resource"
                            + " WHERE pk = ?")) {
                bind(statement, pk);
                statement.executeUpdate();
            }
        }

        private Current lockCurrent(String type, String id) throws SQLException {
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT pk, version, last_updated, deleted, patients FROM bf_resource"
                            + " WHERE res_type = ? AND res_id = ? FOR UPDATE")) {
                bind(statement, type, id);
                try (ResultSet rows = statement.executeQuery()) {
                    if (!rows.next()) {
                        return null;
                    }
                    return new Current(rows.getLong(1), rows.getLong(2), Instant.ofEpochMilli(rows.getLong(3)),
                            rows.getBoolean(4), patientsOf(rows.getString(5)));
                }
            }
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
                java.util.regex.Matcher binary = url == null ? null : BINARY_URL.matcher(url);
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
                json = parser.encodeResourceToString(resource).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                String tooLong = JsonNumbers.findTooLong(json, 0, json.length);
                if (tooLong != null) {
                    throw new InvalidResourceException(tooLong);
                }
            }
            IIdType versioned = resource.getIdElement().withVersion(Long.toString(version));
            resource.setId(versioned);
            return new StoredResource(type, id, version, now, false, json);
        }
    }

    private record Current(long pk, long version, Instant lastUpdated, boolean deleted, Set<String> patients) {}

    /**
     * The {@code bf_resource.patients} column: the ids of the patients whose compartments hold the
     * resource, separated by spaces (a FHIR id has none), or null if none.
     */
    private static String patientsColumn(Set<String> patientIds) {
        return patientIds.isEmpty() ? null : String.join(" ", patientIds);
    }

    /** The ids in a {@code bf_resource.patients} value. */
    public static Set<String> patientsOf(String column) {
        return column == null ? Set.of() : new LinkedHashSet<>(Arrays.asList(column.split(" ")));
    }

    private record BinaryUpload(StagedContent content, String filename) {}

    /** A Binary version's content on its way into the BinaryStore; {@code data} is the caller's own. */
    private record BinaryRow(BinaryUpload upload, String contentType, String securityContext, byte[] data) {}

    /** An attachment url that points at a Binary of this server: Binary/[id], relative or absolute. */
    private static final java.util.regex.Pattern BINARY_URL =
            java.util.regex.Pattern.compile("(?:.*/)?Binary/([A-Za-z0-9\\-.]{1,64})(?:/_history/[0-9]+)?");

    /**
     * Every write path (REST, conditional, transaction, batch, load) comes through here: the id must be
     * valid, and a Binary may not take an id of the export files' reserved shape, which would be served
     * in place of an export file once its export is gone.
     */
    private static void requireWritableId(String type, String id) {
        if (!isValidId(id)) {
            throw new InvalidResourceException("Invalid resource id '" + id
                    + "': an id is 1 to 64 letters, digits, '-' or '.'");
        }
        if ("Binary".equals(type) && ExportFileStore.isFileId(id)) {
            throw new InvalidResourceException("Binary/" + id + " is in the id space reserved for export files"
                    + " (bulk- and 32 hex digits): a Binary cannot be written there.");
        }
    }

    private static String newId() {
        return UUID.randomUUID().toString();
    }
}
