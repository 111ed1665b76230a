package dev.bulkfhir.server.audit;

import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.storage.Database;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The audit table's blocks on both engines: what goes in comes back, in order, found, paged and purged. */
class AuditTableTest {

    @Test
    void blocksOnH2(@TempDir Path dir) throws Exception {
        try (Database database = Database.open(Database.h2Url(dir), null, null, 4)) {
            assertBlocks(new AuditTable(database.dataSource()));
        }
    }

    @Test
    void blocksOnPostgreSql() throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start();
                Database database = Database.open(postgres.getJdbcUrl("postgres", "postgres"), "postgres", null, 4)) {
            assertBlocks(new AuditTable(database.dataSource()));
        }
    }

    @Test
    void blocksOfTheFirstFormatAreStillRead(@TempDir Path dir) throws Exception {
        try (Database database = Database.open(Database.h2Url(dir), null, null, 4)) {
            // Each record with its texts in full, as blocks were written before texts were shared.
            ByteArrayOutputStream data = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(data)) {
                for (AuditRecord record : List.of(
                        new AuditRecord(1_000_000, AuditAction.FILE_DOWNLOAD, 200, "app", "Binary/f1", null, 0, 77),
                        new AuditRecord(1_000_001, AuditAction.REFUSED, 403, null, null, "not yours", 0, 0))) {
                    out.writeLong(record.time());
                    out.writeUTF(record.action().code());
                    out.writeInt(record.status());
                    for (String text : new String[] {record.client(), record.entity(), record.detail()}) {
                        out.writeBoolean(text != null);
                        if (text != null) out.writeUTF(text);
                    }
                    out.writeLong(record.count());
                    out.writeLong(record.bytes());
                }
            }
            try (Connection connection = database.dataSource().getConnection();
                 PreparedStatement insert = connection.prepareStatement("INSERT INTO bf_audit_block (first_recorded,"
                         + " last_recorded, records, data) VALUES (1000000, 1000001, 2, ?)")) {
                insert.setBytes(1, data.toByteArray());
                insert.executeUpdate();
            }
            AuditTable table = new AuditTable(database.dataSource());
            table.write(List.of(new AuditRecord(1_000_002, AuditAction.BINARY_READ, 200, "app", "Binary/b", "native", 0, 9)));

            List<AuditTable.Row> all = table.search(new AuditTable.Filter(null, null, "app", null, 0), 100);
            assertEquals(List.of(77L, 9L), all.stream().map(row -> row.record().bytes()).toList());
            assertEquals("not yours", table.search(new AuditTable.Filter(null, null, null, null, 0), 100).get(1)
                    .record().detail());
        }
    }

    private static void assertBlocks(AuditTable table) throws Exception {
        // One writer batch of more than a block, then a second batch a minute later.
        List<AuditRecord> first = new ArrayList<>();
        for (int i = 0; i < AuditTable.BLOCK + 10; i++) {
            first.add(new AuditRecord(1_000_000 + i, AuditAction.BINARY_READ, 200, i % 2 == 0 ? "even" : "odd",
                    "Binary/b" + i, "native", 0, 1024));
        }
        AuditRecord refusal = new AuditRecord(1_060_000, AuditAction.REFUSED, 404, null, null,
                "Résumé: no such \u2603 \n line", 0, 0);
        table.write(first);
        table.write(List.of(refusal));

        List<AuditTable.Row> all = table.search(new AuditTable.Filter(null, null, null, null, 0), 10_000);
        assertEquals(first.size() + 1, all.size());
        for (int i = 0; i < first.size(); i++) {
            assertEquals(first.get(i), all.get(i).record());
        }
        assertEquals(refusal, all.get(first.size()).record(), "null client and entity, any text in the detail");
        for (int i = 1; i < all.size(); i++) {
            assertTrue(all.get(i).id() > all.get(i - 1).id(), "ids grow in recording order");
        }

        // Paging by the last id seen, across the block boundary, gives each event once.
        List<AuditTable.Row> paged = new ArrayList<>();
        long after = 0;
        while (true) {
            List<AuditTable.Row> page = table.search(new AuditTable.Filter(null, null, null, null, after), 100);
            paged.addAll(page);
            if (page.size() < 100) break;
            after = page.get(page.size() - 1).id();
        }
        assertEquals(all, paged);

        // Filters: time (inclusive), client, entity.
        assertEquals(3, table.search(new AuditTable.Filter(1_000_010L, 1_000_012L, null, null, 0), 100).size());
        List<AuditTable.Row> odd = table.search(new AuditTable.Filter(null, null, "odd", null, 0), 10_000);
        assertEquals(first.size() / 2, odd.size());
        assertEquals(List.of(all.get(1030)),
                table.search(new AuditTable.Filter(null, null, null, "Binary/b1030", 0), 100));
        assertEquals(List.of(all.get(first.size())),
                table.search(new AuditTable.Filter(1_050_000L, null, null, null, 0), 100));

        // Read by id; an id of no event.
        assertEquals(all.get(1030), table.read(all.get(1030).id()).orElseThrow());
        assertTrue(table.read(all.get(first.size()).id() + 1).isEmpty());
        assertTrue(table.read(1).isEmpty());

        // The purge takes whole blocks whose events are all older: the first batch, not the refusal.
        assertEquals(first.size(), table.purge(1_050_000));
        List<AuditTable.Row> left = table.search(new AuditTable.Filter(null, null, null, null, 0), 100);
        assertEquals(1, left.size());
        assertNull(left.get(0).record().client());
        assertEquals(0, table.purge(1_050_000));
    }
}
