package dev.bulkfhir.server.audit;

import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.storage.resource.StorageException;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The audit trail in table {@code bf_audit}: one narrow row per {@link AuditRecord}, inserted in JDBC
 * batches, read back in id order (which is the order they were recorded in, give or take a batch).
 */
public final class AuditTable {

    /** A stored record and its row id (the AuditEvent's id). */
    public record Row(long id, AuditRecord record) {
    }

    /**
     * What a search matches; null fields match everything.
     *
     * @param from  recorded at or after (epoch ms)
     * @param to    recorded at or before (epoch ms)
     * @param after only rows with a greater id (the paging cursor)
     */
    public record Filter(Long from, Long to, String client, String entity, long after) {
    }

    private static final String COLUMNS = "id, recorded, action_code, status, client, entity, detail, resources, bytes";

    private final DataSource dataSource;

    public AuditTable(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Inserts {@code records} in one batch and one transaction. */
    public void write(List<AuditRecord> records) throws SQLException {
        try (Connection connection = dataSource.getConnection()) {
            boolean autoCommit = connection.getAutoCommit();
            connection.setAutoCommit(false);
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO bf_audit (recorded, action_code,"
                    + " status, client, entity, detail, resources, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
                for (AuditRecord record : records) {
                    insert.setLong(1, record.time());
                    insert.setString(2, record.action().code());
                    insert.setInt(3, record.status());
                    setText(insert, 4, record.client(), 255);
                    setText(insert, 5, record.entity(), 1024);
                    setText(insert, 6, record.detail(), AuditRecord.MAX_DETAIL);
                    insert.setLong(7, record.count());
                    insert.setLong(8, record.bytes());
                    insert.addBatch();
                }
                insert.executeBatch();
                connection.commit();
            } catch (SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            } finally {
                connection.setAutoCommit(autoCommit);
            }
        }
    }

    private static void setText(PreparedStatement statement, int index, String text, int max) throws SQLException {
        if (text == null) {
            statement.setNull(index, Types.VARCHAR);
        } else {
            statement.setString(index, text.length() > max ? text.substring(0, max) : text);
        }
    }

    /** Up to {@code limit} rows matching {@code filter}, in id order. */
    public List<Row> search(Filter filter, int limit) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM bf_audit WHERE id > ?");
        List<Object> values = new ArrayList<>();
        values.add(filter.after());
        if (filter.from() != null) {
            sql.append(" AND recorded >= ?");
            values.add(filter.from());
        }
        if (filter.to() != null) {
            sql.append(" AND recorded <= ?");
            values.add(filter.to());
        }
        if (filter.client() != null) {
            sql.append(" AND client = ?");
            values.add(filter.client());
        }
        if (filter.entity() != null) {
            sql.append(" AND entity = ?");
            values.add(filter.entity());
        }
        sql.append(" ORDER BY id FETCH FIRST ").append(limit).append(" ROWS ONLY");
        try (Connection connection = dataSource.getConnection();
             PreparedStatement query = connection.prepareStatement(sql.toString())) {
            for (int i = 0; i < values.size(); i++) {
                query.setObject(i + 1, values.get(i));
            }
            List<Row> rows = new ArrayList<>();
            try (ResultSet result = query.executeQuery()) {
                while (result.next()) {
                    rows.add(row(result));
                }
            }
            return rows;
        } catch (SQLException e) {
            throw new StorageException("Cannot read the audit trail", e);
        }
    }

    public Optional<Row> read(long id) {
        List<Row> rows = search(new Filter(null, null, null, null, id - 1), 1);
        return rows.stream().filter(row -> row.id() == id).findFirst();
    }

    /** Deletes the rows recorded before {@code before} (epoch ms); returns how many. */
    public int purge(long before) {
        try (Connection connection = dataSource.getConnection();
             PreparedStatement delete = connection.prepareStatement("DELETE FROM bf_audit WHERE recorded < ?")) {
            delete.setLong(1, before);
            return delete.executeUpdate();
        } catch (SQLException e) {
            throw new StorageException("Cannot purge the audit trail", e);
        }
    }

    private static Row row(ResultSet result) throws SQLException {
        AuditAction action = AuditAction.ofCode(result.getString(3));
        return new Row(result.getLong(1), new AuditRecord(result.getLong(2),
                action == null ? AuditAction.REFUSED : action, result.getInt(4), result.getString(5),
                result.getString(6), result.getString(7), result.getLong(8), result.getLong(9)));
    }
}
