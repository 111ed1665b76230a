package dev.bulkfhir.storage.source;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.DataFormatException;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;
import dev.bulkfhir.storage.resource.PatientCompartment;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.ResourceTables;
import dev.bulkfhir.storage.resource.ResourceTables.Version;
import dev.bulkfhir.storage.resource.StorageException;
import dev.bulkfhir.storage.resource.WritesInFlight;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Group;

import javax.sql.DataSource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The built-in store as an export source (its SQL is {@link ResourceTables}'): {@code bf_resource}
 * walked by primary key, one type at a time, in pages (keyset, so no cursor stays open across pages
 * and memory stays flat), each row's stored JSON handed on as bytes without parsing.
 *
 * <p>Snapshot rule: a row whose lastUpdated is at or before the transaction time is the version to
 * export (rows that changed later are left out of the main pass). Rows that changed after it are
 * then looked up in {@code bf_resource_history} for the version current at the transaction time: a
 * resource created later has none, one deleted then has a deletion. Only these few late rows are ever
 * parsed (their compartment may have changed since).
 *
 * <p>Binary: its stored JSON has no {@code data}; the content is read from the {@link BinarySource}
 * and embedded base64 (up to {@link #MAX_EMBEDDED_BINARY} bytes; a larger Binary goes to the error
 * file with a pointer to its download URL).
 *
 * <p>Ranges: a large type is cut into ranges ({@link #firstRange}) by primary key, which a row keeps for good (an update
 * rewrites the row, a delete marks it), so a range means the same resources on every run.
 *
 * <p>Memory: a page ends after {@value #PAGE} rows or once its JSON reaches the page byte limit,
 * whichever comes first, and rows are read one by one as the page is walked: H2 runs the export's
 * queries lazily (otherwise it builds the whole page in memory before the first row), PostgreSQL
 * reads them through a cursor, fetching fewer rows at a time once rows turn out large.
 */
public final class StoreResourceSource implements ResourceSource {

    /** Binary content embedded in an export line at most; the line is built in memory. */
    public static final long MAX_EMBEDDED_BINARY = 10L * 1024 * 1024;
    private static final int PAGE = 1000;
    /** The JSON a page holds at most (about: the row that passes it is the page's last). */
    public static final long PAGE_BYTES = 16L * 1024 * 1024;
    /** Patient lists up to this size are matched in SQL by default; larger ones page by page in memory. */
    public static final int SQL_PATIENT_LIST = 500;

    private final DataSource dataSource;
    private final FhirContext context;
    private final BinarySource binaries;
    private final PatientCompartment compartment;
    private final int sqlPatientList;
    private final WritesInFlight writesInFlight;
    private final long pageBytes;

    /** The store's resources, read through {@code dataSource}, with its Binary content and open writes. */
    public StoreResourceSource(DataSource dataSource, ResourceStore store) {
        this(dataSource, store, SQL_PATIENT_LIST, PAGE_BYTES);
    }

    /**
     * @param sqlPatientList the longest patient list matched in SQL (an IN list); longer ones are matched in memory
     * @param pageBytes      the JSON a page of rows holds at most (about)
     */
    public StoreResourceSource(DataSource dataSource, ResourceStore store, int sqlPatientList, long pageBytes) {
        this.dataSource = dataSource;
        this.context = store.context();
        this.binaries = store.binaries();
        this.writesInFlight = store.writesInFlight();
        this.compartment = new PatientCompartment(context);
        this.sqlPatientList = Math.max(1, sqlPatientList);
        this.pageBytes = Math.max(1, pageBytes);
    }

    /** Before the oldest write of the store still open, so that the next {@code _since} export finds it. */
    @Override
    public Instant transactionTime() {
        return writesInFlight.settledTime();
    }

    @Override
    public void stream(ExportQuery query, ResourceSink sink) throws IOException {
        if (query.patientCompartment() && query.patients() != null && query.patients().isEmpty()) {
            return;
        }
        try (Connection connection = dataSource.getConnection()) {
            boolean h2 = connection.getMetaData().getDatabaseProductName().contains("H2");
            streaming(connection, h2, true);
            try {
                if (query.patientCompartment() && query.patients() != null && query.patients().size() > sqlPatientList) {
                    streamLargePatientList(connection, query, sink);
                } else {
                    streamCurrent(connection, query, sink);
                }
                streamLate(connection, query, sink);
            } finally {
                streaming(connection, h2, false);
            }
        } catch (SQLException e) {
            throw new StorageException("Export read of " + query.type() + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Rows as the result is walked rather than all at once: H2 (embedded) builds a whole result in memory
     * unless the query runs lazily; PostgreSQL's driver reads all rows at once unless inside a transaction.
     */
    private static void streaming(Connection connection, boolean h2, boolean on) throws SQLException {
        if (h2) {
            try (var statement = connection.createStatement()) {
                statement.execute("SET LAZY_QUERY_EXECUTION " + (on ? "TRUE" : "FALSE"));
            }
        } else if (on) {
            connection.setAutoCommit(false);
        } else {
            connection.rollback(); // it only read
            connection.setAutoCommit(true);
        }
    }

    @Override
    public KeyRange firstRange(String type, KeyRange within, long rangeSize) {
        // The row after the first rangeSize rows of the type in the (res_type, pk) index: the range
        // ends just below it. A walk of the index; no row is read.
        try (Connection connection = dataSource.getConnection()) {
            Long next = ResourceTables.keyAfter(connection, type, within.afterOrMin(), within.upToOrMax(),
                    Math.max(1, rangeSize));
            return next != null ? new KeyRange(within.after(), next - 1) : within;
        } catch (SQLException e) {
            throw new StorageException("Cutting a range of " + type + " failed: " + e.getMessage(), e);
        }
    }

    /** Rows whose current version is the one to export, with compartment checks in SQL. */
    private void streamCurrent(Connection connection, ExportQuery query, ResourceSink sink)
            throws SQLException, IOException {
        List<String> patients = query.patientCompartment() && query.patients() != null
                ? new ArrayList<>(query.patients()) : List.of();
        String sql = ResourceTables.currentPage(idColumns(query, "r.") + patientsColumn(sink, "r."),
                query.since() != null, patients.size(), query.patientCompartment(), PAGE);
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            Page page = new Page();
            long after = query.range().afterOrMin();
            while (true) {
                int i = 1;
                statement.setString(i++, query.type());
                statement.setLong(i++, query.asOf().toEpochMilli());
                if (query.since() != null) statement.setLong(i++, query.since().toEpochMilli());
                for (String patient : patients) statement.setString(i++, patient);
                statement.setLong(i++, after);
                statement.setLong(i, query.range().upToOrMax());
                page.start(statement);
                try (ResultSet row = statement.executeQuery()) {
                    while (page.next(row)) {
                        after = row.getLong(1);
                        page.read(emit(query, row, 2, sink), row);
                    }
                }
                if (page.last()) return;
            }
        }
    }

    /**
     * One page of rows, ended by count ({@value #PAGE}) or by the bytes read. With a driver that fetches
     * ahead (PostgreSQL), it fetches only as many rows at a time as the largest row so far lets fit.
     */
    private final class Page {
        private int rows;
        private long bytes;
        private int largest;
        /** Rows per fetch; few until the size of the rows is known. */
        private int fetch = 8;

        void start(PreparedStatement statement) throws SQLException {
            rows = 0;
            bytes = 0;
            statement.setFetchSize(fetch);
        }

        boolean next(ResultSet row) throws SQLException {
            return bytes < pageBytes && row.next();
        }

        void read(int length, ResultSet row) throws SQLException {
            rows++;
            bytes += length;
            largest = Math.max(largest, length);
            int fits = (int) Math.max(1, Math.min(PAGE, pageBytes / Math.max(1, largest)));
            if (fits != fetch) {
                fetch = fits;
                row.setFetchSize(fits);
            }
        }

        /** Whether the page ended on its byte limit. */
        boolean full() {
            return bytes >= pageBytes;
        }

        /** Whether the walk is over: the page ended short of both limits. */
        boolean last() {
            return rows < PAGE && !full();
        }
    }

    /**
     * A large patient list: each page's keys and compartments first (no JSON), then the JSON of only
     * the rows that belong to a listed patient.
     */
    private void streamLargePatientList(Connection connection, ExportQuery query, ResourceSink sink)
            throws SQLException, IOException {
        try (PreparedStatement keyQuery = connection.prepareStatement(
                ResourceTables.compartmentKeysPage(query.since() != null, PAGE))) {
            Page page = new Page();
            long after = query.range().afterOrMin();
            while (true) {
                keyQuery.setString(1, query.type());
                keyQuery.setLong(2, after);
                keyQuery.setLong(3, query.range().upToOrMax());
                keyQuery.setLong(4, query.asOf().toEpochMilli());
                if (query.since() != null) keyQuery.setLong(5, query.since().toEpochMilli());
                keyQuery.setFetchSize(PAGE);
                List<Long> wanted = new ArrayList<>();
                int rows = 0;
                long lastKey = after;
                try (ResultSet row = keyQuery.executeQuery()) {
                    while (row.next()) {
                        rows++;
                        lastKey = row.getLong(1);
                        if (query.inScope(ResourceStore.patientsOf(row.getString(2)))) wanted.add(lastKey);
                    }
                }
                after = lastKey;
                if (!wanted.isEmpty()) {
                    try (PreparedStatement json = connection.prepareStatement(ResourceTables.rowsByKey(
                            idColumns(query, "") + patientsColumn(sink, ""), wanted.size()))) {
                        for (int i = 0; i < wanted.size(); i++) json.setLong(i + 1, wanted.get(i));
                        page.start(json);
                        try (ResultSet row = json.executeQuery()) {
                            while (page.next(row)) {
                                long key = row.getLong(1);
                                page.read(emit(query, row, 2, sink), row);
                                if (page.full()) after = key; // the rest of this page's keys again, next time
                            }
                        }
                    }
                    if (page.full()) continue;
                }
                if (rows < PAGE) return;
            }
        }
    }

    /** Rows changed after the transaction time: export the version that was current then, if any. */
    private void streamLate(Connection connection, ExportQuery query, ResourceSink sink)
            throws SQLException, IOException {
        try (PreparedStatement late = connection.prepareStatement(ResourceTables.changedAfter())) {
            late.setFetchSize(PAGE);
            late.setString(1, query.type());
            late.setLong(2, query.asOf().toEpochMilli());
            late.setLong(3, query.range().afterOrMin());
            late.setLong(4, query.range().upToOrMax());
            try (ResultSet row = late.executeQuery()) {
                while (row.next()) {
                    String id = row.getString(1);
                    Version version = ResourceTables.versionAt(connection, query.type(), id, query.asOf());
                    if (version == null || version.deleted()
                            || (query.since() != null && version.lastUpdated() <= query.since().toEpochMilli())) {
                        continue;
                    }
                    Set<String> patients = null;
                    if (query.patientCompartment() || sink.wantsPatients()) {
                        patients = patientIds(query, version.json(), id, sink);
                        if (patients == null || !query.inScope(patients)) continue;
                    }
                    emit(query.type(), id, version.version(), version.json(), patients, sink);
                }
            }
        }
    }

    /**
     * Candidates through the (res_type, last_updated) index: rows changed after {@code _since} that are
     * deleted now, or changed again after the transaction time (then their state as of it decides).
     * Deletions are few; each one's last version is read from the history for its compartment.
     */
    @Override
    public void streamDeleted(ExportQuery query, DeletionSink sink) throws IOException {
        if (query.since() == null) return;
        long since = query.since().toEpochMilli();
        try (Connection connection = dataSource.getConnection();
                PreparedStatement candidates = connection.prepareStatement(ResourceTables.deletedCandidates())) {
            candidates.setString(1, query.type());
            candidates.setLong(2, since);
            candidates.setLong(3, query.asOf().toEpochMilli());
            candidates.setLong(4, query.range().afterOrMin());
            candidates.setLong(5, query.range().upToOrMax());
            List<String> ids = new ArrayList<>();
            try (ResultSet row = candidates.executeQuery()) {
                while (row.next()) ids.add(row.getString(1));
            }
            for (String id : ids) {
                Version at = ResourceTables.versionAt(connection, query.type(), id, query.asOf());
                if (at == null || !at.deleted() || at.lastUpdated() <= since) continue;
                byte[] last = ResourceTables.lastVersionBefore(connection, query.type(), id, at.version());
                if (query.patientCompartment() && (last == null || !inScope(query, last))) continue;
                sink.deleted(id, Instant.ofEpochMilli(at.lastUpdated()), last);
            }
        } catch (SQLException e) {
            throw new StorageException("Export read of deleted " + query.type() + " failed: " + e.getMessage(), e);
        }
    }

    /** Whether a version's compartment is in the query's scope; an unreadable one is not. */
    private boolean inScope(ExportQuery query, byte[] json) {
        try {
            IBaseResource resource = context.newJsonParser().parseResource(new String(json, StandardCharsets.UTF_8));
            return query.inScope(compartment.patientIds(resource));
        } catch (DataFormatException e) {
            return false;
        }
    }

    /** The patients whose compartments hold the stored version; null (and an error) if it cannot be read. */
    private Set<String> patientIds(ExportQuery query, byte[] json, String id, ResourceSink sink) throws IOException {
        try {
            IBaseResource resource = context.newJsonParser().parseResource(new String(json, StandardCharsets.UTF_8));
            return compartment.patientIds(resource);
        } catch (DataFormatException e) {
            sink.error(query.type() + "/" + id, "Stored version could not be read: " + e.getMessage());
            return null;
        }
    }

    /** The row's compartments as a last column, for a sink that wants them. */
    private static String patientsColumn(ResourceSink sink, String alias) {
        return sink.wantsPatients() ? ", " + alias + "patients" : "";
    }

    /**
     * Id and version are read only where they are needed (Binary, whose content is looked up by them):
     * decoding two more columns per row is a good part of the cost of a row in H2.
     */
    private static String idColumns(ExportQuery query, String alias) {
        return query.type().equals("Binary") ? ", " + alias + "res_id, " + alias + "version" : "";
    }

    /** The row's JSON (in column {@code jsonColumn}), and for Binary its id and version after it; returns its length. */
    private int emit(ExportQuery query, ResultSet row, int jsonColumn, ResourceSink sink)
            throws SQLException, IOException {
        boolean binary = query.type().equals("Binary");
        byte[] json = row.getBytes(jsonColumn);
        Set<String> patients = sink.wantsPatients()
                ? ResourceStore.patientsOf(row.getString(jsonColumn + (binary ? 3 : 1))) : null;
        emit(query.type(), binary ? row.getString(jsonColumn + 1) : null, binary ? row.getLong(jsonColumn + 2) : 0,
                json, patients, sink);
        return json == null ? 0 : json.length;
    }

    private void emit(String type, String id, long version, byte[] json, Set<String> patients, ResourceSink sink)
            throws IOException {
        if (json == null) {
            return;
        }
        if (type.equals("Binary")) {
            json = withBinaryData(id, version, json, sink);
            if (json == null) return;
        }
        if (patients != null) {
            sink.resource(json, patients);
        } else {
            sink.resource(json);
        }
    }

    /** The stored Binary JSON (which has no data) with its content spliced in as base64 {@code data}. */
    private byte[] withBinaryData(String id, long version, byte[] json, ResourceSink sink) throws IOException {
        Optional<BinaryDocument> document = binaries.find(id, version);
        if (document.isEmpty() || document.get().deleted() || document.get().content() == null) {
            sink.error("Binary/" + id, "The content of Binary/" + id + " version " + version + " is missing.");
            return null;
        }
        long size = document.get().content().size();
        if (size > MAX_EMBEDDED_BINARY) {
            sink.error("Binary/" + id, "Binary/" + id + " holds " + size + " bytes, more than an export line embeds ("
                    + MAX_EMBEDDED_BINARY + "); download it from Binary/" + id + " instead.");
            return null;
        }
        int end = json.length - 1;
        while (end > 0 && json[end] != '}') end--;
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) (end + 16 + size * 4 / 3));
        out.write(json, 0, end);
        if (size > 0) {
            out.write(",\"data\":\"".getBytes(StandardCharsets.US_ASCII));
            try (OutputStream base64 = Base64.getEncoder().wrap(new NonClosing(out))) {
                document.get().content().copyTo(base64, 0, size);
            }
            out.write('"');
        }
        out.write('}');
        return out.toByteArray();
    }

    @Override
    public Optional<Set<String>> groupMembers(String groupId, Instant asOf) {
        try (Connection connection = dataSource.getConnection()) {
            Version version = ResourceTables.versionAt(connection, "Group", groupId, asOf);
            if (version == null || version.deleted()) {
                return Optional.empty();
            }
            Group group = context.newJsonParser().parseResource(Group.class,
                    new String(version.json(), StandardCharsets.UTF_8));
            Set<String> members = new LinkedHashSet<>();
            for (Group.GroupMemberComponent member : group.getMember()) {
                var entity = member.getEntity().getReferenceElement();
                if (!member.getInactive() && "Patient".equals(entity.getResourceType()) && entity.hasIdPart()) {
                    members.add(entity.getIdPart());
                }
            }
            return Optional.of(members);
        } catch (SQLException e) {
            throw new StorageException("Reading Group/" + groupId + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public Optional<byte[]> read(String type, String id, Instant asOf) {
        try (Connection connection = dataSource.getConnection()) {
            Version version = ResourceTables.versionAt(connection, type, id, asOf);
            return version == null || version.deleted() ? Optional.empty() : Optional.ofNullable(version.json());
        } catch (SQLException e) {
            throw new StorageException("Reading " + type + "/" + id + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public Set<String> existingPatients(Set<String> patientIds, Instant asOf) {
        Set<String> existing = new HashSet<>();
        List<String> ids = new ArrayList<>(patientIds);
        try (Connection connection = dataSource.getConnection()) {
            for (int from = 0; from < ids.size(); from += SQL_PATIENT_LIST) {
                List<String> slice = ids.subList(from, Math.min(ids.size(), from + SQL_PATIENT_LIST));
                Set<String> late = new HashSet<>();
                ResourceTables.patients(connection, slice, asOf, existing, late);
                for (String id : late) {
                    Version version = ResourceTables.versionAt(connection, "Patient", id, asOf);
                    if (version != null && !version.deleted()) existing.add(id);
                }
            }
            return existing;
        } catch (SQLException e) {
            throw new StorageException("Reading patients failed: " + e.getMessage(), e);
        }
    }

    @Override
    public boolean hasData(String type) {
        try (Connection connection = dataSource.getConnection()) {
            return ResourceTables.hasRows(connection, type);
        } catch (SQLException e) {
            throw new StorageException("Database read failed: " + e.getMessage(), e);
        }
    }

    /** Lets the base64 encoder be closed (to write its padding) without closing the buffer under it. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() {
            // the buffer stays open
        }
    }
}
