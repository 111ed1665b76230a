package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.binary.StagedContent;
import dev.bulkfhir.storage.export.ExportFileStore;
import org.hl7.fhir.instance.model.api.IBaseBinary;
import org.hl7.fhir.instance.model.api.IBaseResource;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The built-in resource store: every R4 resource type in three tables (current versions,
 * older versions, patient compartment membership). Plain JDBC, because the load and export
 * paths move millions of rows and must stream bytes without an ORM in between.
 *
 * <p>Every write runs in a transaction through {@link ResourceWrites}; the SQL is {@link ResourceTables}'; the server owns version ids and
 * lastUpdated, which are written into the stored JSON so that it can be served as it is.
 *
 * <p>A Binary's content never stays in its JSON: every write path moves {@code Binary.data} into the
 * {@link BinaryStore} (as bytes, inline or in the file store) in the same transaction, so the stored
 * JSON of a Binary has no {@code data}; read the content through {@link #binaries()}.
 */
public final class ResourceStore {

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

    PatientCompartment compartment() {
        return compartment;
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
        T run(ResourceWrites writes) throws SQLException;
    }

    public <T> T inTransaction(TransactionWork<T> work) {
        try (Connection connection = dataSource.getConnection()) {
            connection.setAutoCommit(false);
            // Stamped when the transaction starts, and open until it ends: see WritesInFlight.
            Instant stamp = writesInFlight.begin();
            ResourceWrites writes = new ResourceWrites(this, connection, stamp);
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
        try (Connection connection = dataSource.getConnection()) {
            return ResourceTables.isEmpty(connection);
        } catch (SQLException e) {
            throw new StorageException("Database read failed: " + e.getMessage(), e);
        }
    }

    /** The current version, which may be a deletion; empty if the resource never existed. */
    public Optional<StoredResource> read(String type, String id) {
        return read(connection -> ResourceTables.current(connection, type, id));
    }

    public Optional<StoredResource> vread(String type, String id, long version) {
        Optional<StoredResource> current = read(type, id);
        if (current.isEmpty() || current.get().version() == version) {
            return current;
        }
        return read(connection -> ResourceTables.olderVersion(connection, type, id, version));
    }

    /** All versions, newest first. */
    public List<StoredResource> history(String type, String id) {
        return read(connection -> {
            List<StoredResource> versions = new ArrayList<>();
            ResourceTables.current(connection, type, id).ifPresent(versions::add);
            if (!versions.isEmpty()) {
                versions.addAll(ResourceTables.olderVersions(connection, type, id));
            }
            return versions;
        });
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
            StringBuilder sql = ResourceTables.searchSql();
            ResourceTables.appendWhere(query, lastUpdated, boundary, forward, sql, params);
            // A walk of the whole type names the (res_type, pk) index's own order: given ORDER BY pk
            // alone, H2 sorts every row of the type for each page.
            String order = typeWalk ? (forward ? "r.res_type, r.pk" : "r.res_type DESC, r.pk DESC")
                    : (forward ? "r.pk" : "r.pk DESC");
            sql.append(" ORDER BY ").append(order).append(" LIMIT ").append(chunk);
            int fetched = 0;
            try (Connection connection = dataSource.getConnection();
                    PreparedStatement statement = connection.prepareStatement(sql.toString())) {
                ResourceTables.bind(statement, params.toArray());
                try (ResultSet rows = statement.executeQuery()) {
                    while (rows.next()) {
                        fetched++;
                        boundary = rows.getLong(1);
                        StoredResource resource = ResourceTables.readRow(rows, 2);
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
        StringBuilder sql = ResourceTables.countSql();
        ResourceTables.appendWhere(query, "r.last_updated", null, true, sql, params);
        try (Connection connection = dataSource.getConnection();
                PreparedStatement statement = connection.prepareStatement(sql.toString())) {
            ResourceTables.bind(statement, params.toArray());
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        } catch (SQLException e) {
            throw new StorageException("Count failed: " + e.getMessage(), e);
        }
    }

    /** Whether the type has more than {@link #SORTED_UPDATED_RANGE} rows in the query's _lastUpdated range. */
    private boolean manyUpdatedIn(ResourceQuery query) {
        try (Connection connection = dataSource.getConnection()) {
            return ResourceTables.moreUpdatedIn(connection, query, SORTED_UPDATED_RANGE);
        } catch (SQLException e) {
            throw new StorageException("Search failed: " + e.getMessage(), e);
        }
    }

    @FunctionalInterface
    private interface Read<T> {
        T run(Connection connection) throws SQLException;
    }

    private <T> T read(Read<T> read) {
        try (Connection connection = dataSource.getConnection()) {
            return read.run(connection);
        } catch (SQLException e) {
            throw new StorageException("Database read failed: " + e.getMessage(), e);
        }
    }

    /** The ids in a {@code bf_resource.patients} value. */
    public static Set<String> patientsOf(String column) {
        return ResourceTables.patientsOf(column);
    }

    /**
     * Every write path (REST, conditional, transaction, batch, load) comes through here: the id must be
     * valid, and a Binary may not take an id of the export files' reserved shape, which would be served
     * in place of an export file once its export is gone.
     */
    static void requireWritableId(String type, String id) {
        if (!isValidId(id)) {
            throw new InvalidResourceException("Invalid resource id '" + id
                    + "': an id is 1 to 64 letters, digits, '-' or '.'");
        }
        if ("Binary".equals(type) && ExportFileStore.isFileId(id)) {
            throw new InvalidResourceException("Binary/" + id + " is in the id space reserved for export files"
                    + " (bulk- and 32 hex digits): a Binary cannot be written there.");
        }
    }

    static String newId() {
        return UUID.randomUUID().toString();
    }
}
