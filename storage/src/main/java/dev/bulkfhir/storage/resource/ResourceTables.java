package dev.bulkfhir.storage.resource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The one owner of the SQL of the built-in store's three tables: {@code bf_resource} (current
 * versions), {@code bf_resource_history} (older ones) and {@code bf_resource_patient} (compartment
 * membership). The store's reads, searches and writes ({@link ResourceStore}, {@link ResourceWrites})
 * and the export source ({@code StoreResourceSource}) run their statements through here; where a
 * caller walks a statement page by page itself, it gets the statement's text from here and binds
 * the parameters in the order the method names them.
 *
 * <p>Several statements are shaped for H2's planner (an expression instead of a bare column, the
 * index's own ORDER BY): the comments say which, and a change to one must keep its plan.
 */
public final class ResourceTables {

    /** Rows per multi-row INSERT (PostgreSQL takes at most 32,767 parameters a statement). */
    private static final int ROWS_PER_INSERT = 500;
    private static final String COLUMNS = "res_type, res_id, version, last_updated, deleted, json";
    /**
     * lastUpdated as an expression, not a column: the walk must follow the (res_type, pk) index. Given
     * the bare column, H2 picks the (res_type, last_updated) index and sorts the whole type for every page.
     */
    private static final String LAST_UPDATED = "(r.last_updated + 0)";
    /**
     * The (res_type, pk) index's own order. With ORDER BY pk alone, H2 does not see that the index
     * already yields that order (res_type being fixed) and sorts every matching row for each page.
     */
    private static final String INDEX_ORDER = " ORDER BY r.res_type, r.pk";

    private ResourceTables() {
    }

    // ---------------------------------------------------------------- reads of one resource

    /** The current row of a resource, which may be a deletion. */
    static Optional<StoredResource> current(Connection connection, String type, String id) throws SQLException {
        return first(query(connection, "SELECT " + COLUMNS + " FROM bf_resource WHERE res_type = ? AND res_id = ?",
                type, id));
    }

    /** One older version of a resource from the history. */
    static Optional<StoredResource> olderVersion(Connection connection, String type, String id, long version)
            throws SQLException {
        return first(query(connection, "SELECT " + COLUMNS + " FROM bf_resource_history"
                + " WHERE res_type = ? AND res_id = ? AND version = ?", type, id, version));
    }

    /** The older versions of a resource, newest first. */
    static List<StoredResource> olderVersions(Connection connection, String type, String id) throws SQLException {
        return query(connection, "SELECT " + COLUMNS + " FROM bf_resource_history"
                + " WHERE res_type = ? AND res_id = ? ORDER BY version DESC", type, id);
    }

    static boolean isEmpty(Connection connection) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT 1 FROM bf_resource LIMIT 1");
                ResultSet rows = statement.executeQuery()) {
            return !rows.next();
        }
    }

    /** Whether the type has any row (a deletion counts). */
    public static boolean hasRows(Connection connection, String type) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT COUNT(*) FROM (SELECT 1 FROM bf_resource WHERE res_type = ? LIMIT 1) t")) {
            statement.setString(1, type);
            try (ResultSet row = statement.executeQuery()) {
                return row.next() && row.getLong(1) > 0;
            }
        }
    }

    /** A resource's version as the export reads it. */
    public record Version(long version, long lastUpdated, boolean deleted, byte[] json) {}

    /** The version of a resource current at {@code asOf}, or null if it did not exist yet. */
    public static Version versionAt(Connection connection, String type, String id, Instant asOf) throws SQLException {
        long at = asOf.toEpochMilli();
        try (PreparedStatement current = connection.prepareStatement("SELECT version, last_updated, deleted, json"
                + " FROM bf_resource WHERE res_type = ? AND res_id = ?")) {
            current.setString(1, type);
            current.setString(2, id);
            try (ResultSet row = current.executeQuery()) {
                if (!row.next()) return null;
                if (row.getLong(2) <= at) {
                    return new Version(row.getLong(1), row.getLong(2), row.getBoolean(3), row.getBytes(4));
                }
            }
        }
        try (PreparedStatement history = connection.prepareStatement("SELECT version, last_updated, deleted, json"
                + " FROM bf_resource_history WHERE res_type = ? AND res_id = ? AND last_updated <= ?"
                + " ORDER BY version DESC LIMIT 1")) {
            history.setString(1, type);
            history.setString(2, id);
            history.setLong(3, at);
            try (ResultSet row = history.executeQuery()) {
                return row.next() ? new Version(row.getLong(1), row.getLong(2), row.getBoolean(3), row.getBytes(4)) : null;
            }
        }
    }

    /** The JSON of the newest version before {@code version} that is not a deletion, or null. */
    public static byte[] lastVersionBefore(Connection connection, String type, String id, long version)
            throws SQLException {
        try (PreparedStatement history = connection.prepareStatement("SELECT json FROM bf_resource_history"
                + " WHERE res_type = ? AND res_id = ? AND version < ? AND deleted = FALSE ORDER BY version DESC LIMIT 1")) {
            history.setString(1, type);
            history.setString(2, id);
            history.setLong(3, version);
            try (ResultSet row = history.executeQuery()) {
                return row.next() ? row.getBytes(1) : null;
            }
        }
    }

    /** Patients among {@code ids}: those current at or before {@code asOf} and not deleted, and (in {@code late}) those changed since. */
    public static void patients(Connection connection, List<String> ids, Instant asOf, Set<String> existing,
            Set<String> late) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT res_id, last_updated, deleted"
                + " FROM bf_resource WHERE res_type = 'Patient' AND res_id IN (" + placeholders(ids.size()) + ")")) {
            for (int i = 0; i < ids.size(); i++) statement.setString(i + 1, ids.get(i));
            try (ResultSet row = statement.executeQuery()) {
                while (row.next()) {
                    if (row.getLong(2) > asOf.toEpochMilli()) late.add(row.getString(1));
                    else if (!row.getBoolean(3)) existing.add(row.getString(1));
                }
            }
        }
    }

    // ---------------------------------------------------------------- search

    /** A search page: parameters as {@link #appendWhere} adds them. */
    static StringBuilder searchSql() {
        return new StringBuilder("SELECT r.pk, r." + COLUMNS.replace(", ", ", r.") + " FROM bf_resource r");
    }

    static StringBuilder countSql() {
        return new StringBuilder("SELECT COUNT(*) FROM bf_resource r");
    }

    /** The query's conditions on {@code bf_resource r}, from the row after (or before) {@code boundary} on. */
    static void appendWhere(ResourceQuery query, String lastUpdated, Long boundary, boolean forward,
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
            sql.append(" AND r.res_id IN (").append(placeholders(query.ids().size())).append(")");
            params.addAll(query.ids());
        }
        appendUpdatedRange(query, lastUpdated, sql, params);
        if (boundary != null && query.patientId() == null) {
            sql.append(forward ? " AND r.pk > ?" : " AND r.pk < ?");
            params.add(boundary);
        }
    }

    /** Whether the type has more than {@code limit} rows in the query's _lastUpdated range. */
    static boolean moreUpdatedIn(Connection connection, ResourceQuery query, int limit) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT COUNT(*) FROM (SELECT 1 FROM bf_resource WHERE res_type = ?");
        List<Object> params = new ArrayList<>(List.of(query.type()));
        appendUpdatedRange(query, "last_updated", sql, params);
        sql.append(" LIMIT ").append(limit + 1).append(") t");
        try (PreparedStatement statement = connection.prepareStatement(sql.toString())) {
            bind(statement, params.toArray());
            try (ResultSet rows = statement.executeQuery()) {
                return rows.next() && rows.getLong(1) > limit;
            }
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

    // ---------------------------------------------------------------- export walks

    /**
     * The key after the first {@code rangeSize} rows of the type above {@code after} and up to
     * {@code upTo}, in the (res_type, pk) index: a walk of the index, no row is read. Null if there are
     * no more rows.
     */
    public static Long keyAfter(Connection connection, String type, long after, long upTo, long rangeSize)
            throws SQLException {
        try (PreparedStatement next = connection.prepareStatement("SELECT r.pk FROM bf_resource r"
                + " WHERE r.res_type = ? AND r.pk > ? AND r.pk <= ?" + INDEX_ORDER + " LIMIT 1 OFFSET ?")) {
            next.setString(1, type);
            next.setLong(2, after);
            next.setLong(3, upTo);
            next.setLong(4, rangeSize);
            try (ResultSet row = next.executeQuery()) {
                return row.next() ? row.getLong(1) : null;
            }
        }
    }

    /**
     * A page of the type's rows current at the transaction time, by key. Columns: pk, json, then
     * {@code extraColumns} (each with alias {@code r.}). Parameters: type, asOf, since (if
     * {@code since}), the {@code patients} ids, after, upTo.
     *
     * @param patients    how many patient ids the rows must be in the compartment of; 0 for none
     * @param compartment whether (without patient ids) only rows in some patient's compartment count
     */
    public static String currentPage(String extraColumns, boolean since, int patients, boolean compartment, int page) {
        StringBuilder sql = new StringBuilder("SELECT r.pk, r.json" + extraColumns + " FROM bf_resource r"
                + " WHERE r.res_type = ? AND r.deleted = FALSE AND " + LAST_UPDATED + " <= ?");
        if (since) {
            sql.append(" AND ").append(LAST_UPDATED).append(" > ?");
        }
        if (patients == 0) {
            if (compartment) sql.append(" AND r.patients IS NOT NULL");
            sql.append(" AND r.pk > ? AND r.pk <= ?").append(INDEX_ORDER);
        } else {
            // The listed patients' rows, found through the patient index, the cursor among them
            // (beside the subquery, "r.pk > ?" makes H2 walk the table from the cursor instead).
            // IN (subquery), not a correlated EXISTS with an IN list: H2 evaluates the latter very slowly.
            sql.append(" AND r.pk IN (SELECT p.resource_pk FROM bf_resource_patient p WHERE p.patient_id IN (")
                    .append(placeholders(patients))
                    .append(") AND p.resource_pk > ? AND p.resource_pk <= ?) ORDER BY r.pk");
        }
        return sql.append(" LIMIT ").append(page).toString();
    }

    /**
     * A page of keys and compartments (no JSON) of the type's rows in some compartment, current at the
     * transaction time. Columns: pk, patients. Parameters: type, after, upTo, asOf, since (if {@code since}).
     */
    public static String compartmentKeysPage(boolean since, int page) {
        return "SELECT r.pk, r.patients FROM bf_resource r WHERE r.res_type = ? AND r.pk > ? AND r.pk <= ?"
                + " AND r.deleted = FALSE AND " + LAST_UPDATED + " <= ?"
                + (since ? " AND " + LAST_UPDATED + " > ?" : "")
                + " AND r.patients IS NOT NULL" + INDEX_ORDER + " LIMIT " + page;
    }

    /** The rows of {@code count} keys, by key. Columns: pk, json, then {@code extraColumns} (no alias). Parameters: the keys. */
    public static String rowsByKey(String extraColumns, int count) {
        return "SELECT pk, json" + extraColumns + " FROM bf_resource WHERE pk IN (" + placeholders(count) + ") ORDER BY pk";
    }

    /**
     * Ids of the type's rows changed after a time, within a key range. Usually none or few, found through the
     * (res_type, last_updated) index; no ORDER BY, or H2 walks the whole type in pk order looking for them.
     * The range's bounds are on an expression for the same reason: on the bare pk, H2 walks the range's rows
     * by the (res_type, pk) index instead. Parameters: type, changed after, after, upTo.
     */
    public static String changedAfter() {
        return "SELECT r.res_id FROM bf_resource r WHERE r.res_type = ? AND r.last_updated > ?"
                + " AND (r.pk + 0) > ? AND (r.pk + 0) <= ?";
    }

    /**
     * As {@link #changedAfter()}, for deletions: rows changed after {@code _since} that are deleted now or
     * changed again after the transaction time. Parameters: type, since, asOf, after, upTo.
     */
    public static String deletedCandidates() {
        return "SELECT r.res_id FROM bf_resource r"
                + " WHERE r.res_type = ? AND r.last_updated > ? AND (r.deleted = TRUE OR r.last_updated > ?)"
                + " AND (r.pk + 0) > ? AND (r.pk + 0) <= ?";
    }

    // ---------------------------------------------------------------- writes (in the writer's transaction)

    /** The current row, locked for this transaction; null if the resource never existed. */
    record Current(long pk, long version, Instant lastUpdated, boolean deleted, Set<String> patients) {}

    static Current lockCurrent(Connection connection, String type, String id) throws SQLException {
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

    /** Of the ids by type, those that have a row, as {@code type/id}. */
    static Set<String> existingKeys(Connection connection, Map<String, List<String>> idsByType) throws SQLException {
        Set<String> existing = new HashSet<>();
        for (Map.Entry<String, List<String>> entry : idsByType.entrySet()) {
            List<String> ids = entry.getValue();
            for (int from = 0; from < ids.size(); from += ROWS_PER_INSERT) {
                List<String> slice = ids.subList(from, Math.min(ids.size(), from + ROWS_PER_INSERT));
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

    /** New resources as version 1: rows of {type, id, lastUpdated, json, patients column}; returns their keys. */
    static List<Long> insertNew(Connection connection, List<Object[]> rows) throws SQLException {
        return insertRows(connection, "bf_resource (res_type, res_id, version, last_updated, deleted, json, patients)",
                "(?, ?, 1, ?, FALSE, ?, ?)", rows, true);
    }

    /** Replaces the current row with a new version. */
    static void replace(Connection connection, long pk, long version, Instant lastUpdated, byte[] json,
            Set<String> patients) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("UPDATE bf_resource"
                + " SET version = ?, last_updated = ?, deleted = FALSE, json = ?, patients = ? WHERE pk = ?")) {
            bind(statement, version, lastUpdated.toEpochMilli(), json, patientsColumn(patients), pk);
            statement.executeUpdate();
        }
    }

    /** Makes the current row a deletion. */
    static void markDeleted(Connection connection, long pk, long version, Instant lastUpdated) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("UPDATE bf_resource"
                + " SET version = ?, last_updated = ?, deleted = TRUE, json = NULL, patients = NULL WHERE pk = ?")) {
            bind(statement, version, lastUpdated.toEpochMilli(), pk);
            statement.executeUpdate();
        }
    }

    /** Copies the current row into the history, before it is replaced. */
    static void moveToHistory(Connection connection, long pk) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "INSERT INTO bf_resource_history (" + COLUMNS + ") SELECT " + COLUMNS + " FROM bf_resource"
                        + " WHERE pk = ?")) {
            bind(statement, pk);
            statement.executeUpdate();
        }
    }

    /** Replaces the resource's compartment rows: only those that change are written. */
    static void replacePatients(Connection connection, long pk, Set<String> before, Set<String> after)
            throws SQLException {
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
        insertPatients(connection, List.of(pk), List.of(added));
    }

    static void insertPatients(Connection connection, List<Long> keys, List<Set<String>> patients) throws SQLException {
        List<Object[]> rows = new ArrayList<>(keys.size());
        for (int i = 0; i < keys.size(); i++) {
            for (String patientId : patients.get(i)) {
                rows.add(new Object[] {patientId, keys.get(i)});
            }
        }
        insertRows(connection, "bf_resource_patient (patient_id, resource_pk)", "(?, ?)", rows, false);
    }

    /**
     * Inserts rows with multi-row INSERT statements: one statement per few hundred rows costs the
     * database less than a JDBC batch, which it executes as one statement per row.
     *
     * @return the generated primary keys, in the order of the rows, if asked for; else empty
     */
    private static List<Long> insertRows(Connection connection, String table, String row, List<Object[]> rows,
            boolean generatedKeys) throws SQLException {
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

    // ---------------------------------------------------------------- columns and parameters

    /**
     * The {@code bf_resource.patients} column: the ids of the patients whose compartments hold the
     * resource, separated by spaces (a FHIR id has none), or null if none.
     */
    static String patientsColumn(Set<String> patientIds) {
        return patientIds.isEmpty() ? null : String.join(" ", patientIds);
    }

    /** The ids in a {@code bf_resource.patients} value. */
    static Set<String> patientsOf(String column) {
        return column == null ? Set.of() : new LinkedHashSet<>(Arrays.asList(column.split(" ")));
    }

    /** A row of the six {@code res_type, res_id, version, last_updated, deleted, json} columns from {@code first} on. */
    static StoredResource readRow(ResultSet rows, int first) throws SQLException {
        return new StoredResource(
                rows.getString(first),
                rows.getString(first + 1),
                rows.getLong(first + 2),
                Instant.ofEpochMilli(rows.getLong(first + 3)),
                rows.getBoolean(first + 4),
                rows.getBytes(first + 5));
    }

    static void bind(PreparedStatement statement, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            statement.setObject(i + 1, params[i]);
        }
    }

    private static String placeholders(int count) {
        return String.join(",", Collections.nCopies(count, "?"));
    }

    private static List<StoredResource> query(Connection connection, String sql, Object... params) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            bind(statement, params);
            List<StoredResource> result = new ArrayList<>();
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    result.add(readRow(rows, 1));
                }
            }
            return result;
        }
    }

    private static Optional<StoredResource> first(List<StoredResource> rows) {
        return rows.stream().findFirst();
    }
}
