package dev.bulkfhir.storage.jpa;

import ca.uhn.fhir.interceptor.model.RequestPartitionId;
import org.hl7.fhir.r4.model.InstantType;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * HAPI JPA 8.8's own tables, read with plain SQL on the transaction's connection: the current version
 * of each resource ({@code HFJ_RESOURCE} joined to its {@code HFJ_RES_VER} row), the reference index
 * ({@code HFJ_RES_LINK}) that compartments are selected by, and the resource text exactly as HAPI stored
 * it, turned into the JSON HAPI's read answers by adding {@code id} and {@code meta} (which HAPI keeps in
 * columns, not in the text).
 */
final class HapiTables {

    /** What a row of the current-version query holds, in this order ({@code %s}: the bytes of {@code RES_TEXT}). */
    private static final String CURRENT_COLUMNS = "r.RES_ID, r.FHIR_ID, r.RES_VER, r.RES_UPDATED, r.HAS_TAGS,"
            + " v.RES_ENCODING, %s, v.RES_TEXT_VC, v.SOURCE_URI, v.REQUEST_ID";
    private static final String EXTERNALIZED_BINARY = "http://hapifhir.io/fhir/StructureDefinition/externalized-binary-id";

    /** One current version; {@link #json} null where the stored form cannot be used as it is. */
    record Current(long pid, String id, long version, byte[] json) {}

    @FunctionalInterface
    interface RowHandler {
        void row(Current current) throws IOException;
    }

    private final Connection connection;
    /** The partition condition on {@code r}, e.g. {@code r.PARTITION_ID in (1)}; empty for all partitions. */
    private final String partitionCondition;
    /** Whether content may be kept apart in the host's binary storage (then such resources take HAPI's path). */
    private final boolean externalizedBinaries;
    /** See {@link #storedBytes()}; looked up at the first read. */
    private String storedBytes;

    HapiTables(Connection connection, String partitionCondition, boolean externalizedBinaries) {
        this.connection = connection;
        this.partitionCondition = partitionCondition;
        this.externalizedBinaries = externalizedBinaries;
    }

    /**
     * The resources of {@code type} not deleted and last changed at or before {@code asOf} (after
     * {@code since}, if set), with {@code scope} (a condition on {@code r}, with {@code scopeParams}), in
     * no particular order, streamed from one statement.
     */
    void current(String type, Instant since, Instant asOf, String scope, List<Object> scopeParams,
            RowHandler handler) throws SQLException, IOException {
        StringBuilder sql = new StringBuilder("select ").append(String.format(CURRENT_COLUMNS, storedBytes()))
                .append(" from HFJ_RESOURCE r join HFJ_RES_VER v on v.RES_ID = r.RES_ID and v.RES_VER = r.RES_VER")
                .append(" where r.RES_TYPE = ? and r.RES_DELETED_AT is null and r.RES_UPDATED <= ?");
        List<Object> params = new ArrayList<>(List.of(type, Timestamp.from(asOf)));
        if (since != null) {
            sql.append(" and r.RES_UPDATED > ?");
            params.add(Timestamp.from(since));
        }
        if (!partitionCondition.isEmpty()) sql.append(" and ").append(partitionCondition);
        if (scope != null) {
            sql.append(" and ").append(scope);
            params.addAll(scopeParams);
        }
        String prefix = "{\"resourceType\":\"" + type + "\"";
        boolean h2 = connection.getMetaData().getDatabaseProductName().startsWith("H2");
        if (h2) execute("SET LAZY_QUERY_EXECUTION TRUE"); // stream the rows instead of collecting them first
        try (PreparedStatement statement = connection.prepareStatement(sql.toString())) {
            bind(statement, params);
            statement.setFetchSize(500);
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    handler.row(new Current(rows.getLong(1), rows.getString(2), rows.getLong(3), json(rows, prefix)));
                }
            }
        } finally {
            if (h2) execute("SET LAZY_QUERY_EXECUTION FALSE");
        }
    }

    /**
     * The SQL for the bytes of {@code v.RES_TEXT}. Hibernate makes HAPI's {@code @Lob byte[]} a BLOB on H2
     * but an {@code oid} on PostgreSQL: a large object, whose column holds only its number. {@code lo_get}
     * reads the object in the same statement (a BLOB per row would cost a round trip each); a {@code bytea}
     * column, as some hosts' own migrations make it, is read as it is.
     */
    private String storedBytes() throws SQLException {
        if (storedBytes == null) {
            try (PreparedStatement statement = connection.prepareStatement("select RES_TEXT from HFJ_RES_VER where 1 = 0")) {
                boolean largeObject = statement.getMetaData().getColumnTypeName(1).equalsIgnoreCase("oid");
                storedBytes = largeObject ? "lo_get(v.RES_TEXT)" : "v.RES_TEXT";
            }
        }
        return storedBytes;
    }

    /**
     * The scope "in the Patient compartment of any patient": some reference at one of {@code paths} names a
     * Patient (HAPI indexes each reference under the search parameter path it was found by).
     */
    static String anyPatient(Collection<String> paths, List<Object> params) {
        params.addAll(paths);
        return "exists (select 1 from HFJ_RES_LINK l where l.SRC_RESOURCE_ID = r.RES_ID"
                + " and l.TARGET_RESOURCE_TYPE = 'Patient' and l.SRC_PATH in (" + marks(paths.size()) + "))";
    }

    /**
     * The scope "in the Patient compartment of these patients": a reference at one of {@code paths} to
     * one of them (by HAPI's index of references to them), or, for {@code Patient}, one of them.
     */
    static String somePatients(String type, Collection<String> paths, Collection<Long> patientPids,
            List<Object> params) {
        List<String> alternatives = new ArrayList<>();
        if (!paths.isEmpty()) {
            alternatives.add("r.RES_ID in (select l.SRC_RESOURCE_ID from HFJ_RES_LINK l where l.TARGET_RESOURCE_ID in ("
                    + marks(patientPids.size()) + ") and l.SRC_PATH in (" + marks(paths.size()) + "))");
            params.addAll(patientPids);
            params.addAll(paths);
        }
        if (type.equals("Patient")) {
            alternatives.add("r.RES_ID in (" + marks(patientPids.size()) + ")");
            params.addAll(patientPids);
        }
        return "(" + String.join(" or ", alternatives) + ")";
    }

    /** The condition on {@code r} for the resources in a partition; empty for all partitions. */
    static String partitionCondition(RequestPartitionId partition) {
        if (partition.isAllPartitions()) return "";
        List<String> alternatives = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (Integer id : partition.getPartitionIds()) {
            if (id == null) {
                alternatives.add("r.PARTITION_ID is null"); // the default partition, unless it has an id
            } else {
                ids.add(id.toString());
            }
        }
        if (!ids.isEmpty()) alternatives.add("r.PARTITION_ID in (" + String.join(",", ids) + ")");
        return "(" + String.join(" or ", alternatives) + ")";
    }

    /** The scope "one of these resources" (by persistent id). */
    static String oneOf(Collection<Long> pids, List<Object> params) {
        params.addAll(pids);
        return "r.RES_ID in (" + marks(pids.size()) + ")";
    }

    /** The persistent ids of the Patients with these ids (deleted or not). */
    List<Long> patientPids(Collection<String> ids) throws SQLException {
        String sql = "select r.RES_ID from HFJ_RESOURCE r where r.RES_TYPE = 'Patient' and r.FHIR_ID in ("
                + marks(ids.size()) + ")" + (partitionCondition.isEmpty() ? "" : " and " + partitionCondition);
        return longs(sql, new ArrayList<>(ids));
    }

    /** The ids of the resources of {@code type} changed (updated, created or deleted) after {@code asOf}. */
    List<String> changedAfter(String type, Instant asOf) throws SQLException {
        String sql = "select r.FHIR_ID from HFJ_RESOURCE r where r.RES_TYPE = ? and r.RES_UPDATED > ?"
                + (partitionCondition.isEmpty() ? "" : " and " + partitionCondition);
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            bind(statement, List.of(type, Timestamp.from(asOf)));
            List<String> ids = new ArrayList<>();
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) ids.add(rows.getString(1));
            }
            return ids;
        }
    }

    private List<Long> longs(String sql, List<Object> params) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            bind(statement, params);
            List<Long> values = new ArrayList<>();
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) values.add(rows.getLong(1));
            }
            return values;
        }
    }

    /**
     * The JSON HAPI's read gives for this row: its stored text with {@code id} and {@code meta} (versionId,
     * lastUpdated, source) put in after {@code resourceType}. Null where that would not be the same: tags,
     * profiles or security labels (kept in other tables), text stored elsewhere or in another form, or
     * content kept in the host's binary storage.
     */
    private byte[] json(ResultSet row, String prefix) throws SQLException {
        if (row.getBoolean(5)) return null;
        String text;
        String encoding = row.getString(6);
        if ("JSON".equals(encoding)) {
            text = row.getString(8);
            if (text == null) {
                byte[] bytes = row.getBytes(7);
                if (bytes == null) return null;
                text = new String(bytes, StandardCharsets.UTF_8);
            }
        } else if ("JSONC".equals(encoding)) {
            byte[] bytes = row.getBytes(7);
            if (bytes == null) return null;
            text = gunzip(bytes);
        } else {
            return null;
        }
        if (!text.startsWith(prefix) || text.length() == prefix.length()
                || (externalizedBinaries && text.contains(EXTERNALIZED_BINARY))) {
            return null;
        }
        StringBuilder json = new StringBuilder(text.length() + 160).append(prefix)
                .append(",\"id\":\"").append(row.getString(2))
                .append("\",\"meta\":{\"versionId\":\"").append(row.getLong(3))
                .append("\",\"lastUpdated\":\"").append(new InstantType(row.getTimestamp(4)).getValueAsString()).append('"');
        String source = source(row.getString(9), row.getString(10));
        if (source != null) {
            json.append(",\"source\":");
            quote(source, json);
        }
        json.append('}').append(text, prefix.length(), text.length());
        return json.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** {@code meta.source} as HAPI puts it together: the source URI, then {@code #} and the request id. */
    private static String source(String uri, String requestId) {
        String source = uri == null ? "" : uri;
        if (requestId != null && !requestId.isBlank()) source += "#" + requestId;
        return source.isBlank() ? null : source;
    }

    private static void quote(String value, StringBuilder json) {
        json.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                json.append('\\').append(c);
            } else if (c < 0x20) {
                json.append(String.format("\\u%04x", (int) c));
            } else {
                json.append(c);
            }
        }
        json.append('"');
    }

    private static String gunzip(byte[] bytes) {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void execute(String sql) throws SQLException {
        try (var statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static void bind(PreparedStatement statement, List<Object> params) throws SQLException {
        for (int i = 0; i < params.size(); i++) {
            statement.setObject(i + 1, params.get(i));
        }
    }

    static String marks(int count) {
        return String.join(",", Collections.nCopies(count, "?"));
    }
}
