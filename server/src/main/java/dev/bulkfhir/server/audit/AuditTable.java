package dev.bulkfhir.server.audit;

import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.storage.resource.StorageException;

import javax.sql.DataSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The audit trail in table {@code bf_audit_block}: each row holds a block of up to {@value #BLOCK}
 * {@link AuditRecord}s, as one writer batch gathered them, in a compact binary form. One row per event
 * made H2 insert, index and commit a row per Binary read, which cost that read a quarter of its
 * throughput; a block costs one row per {@value #BLOCK} events. An event's id is
 * {@code block id * BLOCK + its place in the block}: ids grow in the order events were recorded (give
 * or take a batch), and the search reads blocks in id order, filtering their records here.
 */
public final class AuditTable {

    /** A stored record and its id (the AuditEvent's id). */
    public record Row(long id, AuditRecord record) {
    }

    /**
     * What a search matches; null fields match everything.
     *
     * @param from  recorded at or after (epoch ms)
     * @param to    recorded at or before (epoch ms)
     * @param after only events with a greater id (the paging cursor)
     */
    public record Filter(Long from, Long to, String client, String entity, long after) {

        boolean matches(Row row) {
            AuditRecord record = row.record();
            return row.id() > after && (from == null || record.time() >= from) && (to == null || record.time() <= to)
                    && (client == null || client.equals(record.client()))
                    && (entity == null || entity.equals(record.entity()));
        }
    }

    /** The most records in one block (and the factor of an event id's block part). */
    static final int BLOCK = 1024;
    /** The longest client id and entity kept (as the columns of the row-per-event table held). */
    private static final int MAX_CLIENT = 255;
    private static final int MAX_ENTITY = 1024;

    private final DataSource dataSource;

    public AuditTable(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Inserts {@code records} as blocks, in one transaction. */
    public void write(List<AuditRecord> records) throws SQLException {
        try (Connection connection = dataSource.getConnection()) {
            boolean autoCommit = connection.getAutoCommit();
            connection.setAutoCommit(false);
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO bf_audit_block (first_recorded,"
                    + " last_recorded, records, data) VALUES (?, ?, ?, ?)")) {
                for (int start = 0; start < records.size(); start += BLOCK) {
                    List<AuditRecord> block = records.subList(start, Math.min(records.size(), start + BLOCK));
                    long first = Long.MAX_VALUE;
                    long last = Long.MIN_VALUE;
                    for (AuditRecord record : block) {
                        first = Math.min(first, record.time());
                        last = Math.max(last, record.time());
                    }
                    insert.setLong(1, first);
                    insert.setLong(2, last);
                    insert.setInt(3, block.size());
                    insert.setBytes(4, encode(block));
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

    /** Up to {@code limit} events matching {@code filter}, in id order. */
    public List<Row> search(Filter filter, int limit) {
        StringBuilder sql = new StringBuilder("SELECT id, data FROM bf_audit_block WHERE id >= ?");
        List<Long> values = new ArrayList<>();
        values.add(filter.after() / BLOCK);
        if (filter.from() != null) {
            sql.append(" AND last_recorded >= ?");
            values.add(filter.from());
        }
        if (filter.to() != null) {
            sql.append(" AND first_recorded <= ?");
            values.add(filter.to());
        }
        sql.append(" ORDER BY id");
        List<Row> rows = new ArrayList<>();
        try (Connection connection = dataSource.getConnection();
             PreparedStatement query = connection.prepareStatement(sql.toString())) {
            for (int i = 0; i < values.size(); i++) {
                query.setLong(i + 1, values.get(i));
            }
            query.setFetchSize(16); // blocks are large: a few at a time, and most searches stop early
            try (ResultSet result = query.executeQuery()) {
                while (rows.size() < limit && result.next()) {
                    for (Row row : decode(result.getLong(1), result.getBytes(2))) {
                        if (filter.matches(row)) {
                            rows.add(row);
                            if (rows.size() == limit) break;
                        }
                    }
                }
            }
            return rows;
        } catch (SQLException | IOException e) {
            throw new StorageException("Cannot read the audit trail", e);
        }
    }

    public Optional<Row> read(long id) {
        try (Connection connection = dataSource.getConnection();
             PreparedStatement query = connection.prepareStatement("SELECT data FROM bf_audit_block WHERE id = ?")) {
            query.setLong(1, id / BLOCK);
            try (ResultSet result = query.executeQuery()) {
                if (!result.next()) return Optional.empty();
                return decode(id / BLOCK, result.getBytes(1)).stream().filter(row -> row.id() == id).findFirst();
            }
        } catch (SQLException | IOException e) {
            throw new StorageException("Cannot read the audit trail", e);
        }
    }

    /** Deletes the blocks whose events were all recorded before {@code before} (epoch ms); returns how many events. */
    public int purge(long before) {
        try (Connection connection = dataSource.getConnection()) {
            int events = 0;
            try (PreparedStatement count = connection.prepareStatement(
                    "SELECT COALESCE(SUM(records), 0) FROM bf_audit_block WHERE last_recorded < ?")) {
                count.setLong(1, before);
                try (ResultSet result = count.executeQuery()) {
                    result.next();
                    events = result.getInt(1);
                }
            }
            if (events == 0) return 0;
            try (PreparedStatement delete = connection.prepareStatement(
                    "DELETE FROM bf_audit_block WHERE last_recorded < ?")) {
                delete.setLong(1, before);
                delete.executeUpdate();
            }
            return events;
        } catch (SQLException e) {
            throw new StorageException("Cannot purge the audit trail", e);
        }
    }

    /**
     * A block's data: this format byte; its distinct texts (action codes, clients, entities, details),
     * each once, since a block's events mostly share them; then each record: time, the numbers of its
     * action, client, entity and detail texts (0 for none), status, count and bytes. Writing each
     * record's texts out in full made encoding the writer's main cost.
     */
    static final byte SHARED_TEXTS = 1;
    /** Blocks of the first format begin with their first record's time, an epoch millisecond whose top byte is 0. */
    private static final byte FIRST_FORMAT = 0;

    static byte[] encode(List<AuditRecord> block) {
        Map<String, Integer> texts = new LinkedHashMap<>();
        ByteArrayOutputStream records = new ByteArrayOutputStream(block.size() * 34);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(block.size() * 40);
        try (DataOutputStream out = new DataOutputStream(records)) {
            for (AuditRecord record : block) {
                out.writeLong(record.time());
                out.writeShort(textNumber(texts, record.action().code(), Integer.MAX_VALUE));
                out.writeShort(textNumber(texts, record.client(), MAX_CLIENT));
                out.writeShort(textNumber(texts, record.entity(), MAX_ENTITY));
                out.writeShort(textNumber(texts, record.detail(), AuditRecord.MAX_DETAIL));
                out.writeShort(record.status());
                out.writeLong(record.count());
                out.writeLong(record.bytes());
            }
            DataOutputStream header = new DataOutputStream(bytes);
            header.writeByte(SHARED_TEXTS);
            header.writeShort(texts.size());
            for (String text : texts.keySet()) {
                header.writeUTF(text);
            }
            records.writeTo(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // not from memory
        }
        return bytes.toByteArray();
    }

    /** 0 for null, else the text's place in {@code texts} plus one (at most 4 texts a record: a block's fit a short). */
    private static int textNumber(Map<String, Integer> texts, String text, int max) {
        if (text == null) return 0;
        return texts.computeIfAbsent(text.length() > max ? text.substring(0, max) : text, added -> texts.size() + 1);
    }

    static List<Row> decode(long blockId, byte[] data) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
        return data.length > 0 && data[0] == FIRST_FORMAT ? decodeFirstFormat(blockId, in) : decodeSharedTexts(blockId, in);
    }

    private static List<Row> decodeSharedTexts(long blockId, DataInputStream in) throws IOException {
        in.readByte();
        String[] texts = new String[in.readUnsignedShort() + 1];
        for (int i = 1; i < texts.length; i++) {
            texts[i] = in.readUTF();
        }
        List<Row> rows = new ArrayList<>();
        for (int index = 0; in.available() > 0; index++) {
            long time = in.readLong();
            AuditAction action = AuditAction.ofCode(texts[in.readUnsignedShort()]);
            String client = texts[in.readUnsignedShort()];
            String entity = texts[in.readUnsignedShort()];
            String detail = texts[in.readUnsignedShort()];
            int status = in.readUnsignedShort();
            rows.add(new Row(blockId * BLOCK + index, new AuditRecord(time,
                    action == null ? AuditAction.REFUSED : action, status, client, entity, detail, in.readLong(),
                    in.readLong())));
        }
        return rows;
    }

    /** Blocks written before {@link #SHARED_TEXTS}: each record with its texts in full. */
    private static List<Row> decodeFirstFormat(long blockId, DataInputStream in) throws IOException {
        List<Row> rows = new ArrayList<>();
        for (int index = 0; in.available() > 0; index++) {
            long time = in.readLong();
            AuditAction action = AuditAction.ofCode(in.readUTF());
            int status = in.readInt();
            String client = readText(in);
            String entity = readText(in);
            String detail = readText(in);
            rows.add(new Row(blockId * BLOCK + index, new AuditRecord(time,
                    action == null ? AuditAction.REFUSED : action, status, client, entity, detail, in.readLong(),
                    in.readLong())));
        }
        return rows;
    }

    private static String readText(DataInputStream in) throws IOException {
        return in.readBoolean() ? in.readUTF() : null;
    }
}
