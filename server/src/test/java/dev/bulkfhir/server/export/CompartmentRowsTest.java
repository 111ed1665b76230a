package dev.bulkfhir.server.export;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.StoreResourceSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.flywaydb.core.Flyway;
import org.hl7.fhir.r4.model.Observation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.sql.DataSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A resource's patient compartments live twice: in {@code bf_resource_patient} (patient searches,
 * exports of listed patients matched in SQL) and in its own row's {@code patients} column (exports
 * of all patients, long patient lists matched in memory). Updates and deletes keep both exact, each
 * membership stored once, on H2 and PostgreSQL, and the V5 migration fills the column from the rows
 * of older databases (and on H2, V6 keeps the rows under a plain index).
 */
class CompartmentRowsTest {

    private static final FhirContext CONTEXT = FhirContext.forR4Cached();

    @Test
    void updatesAndDeletesMoveAResourceBetweenCompartmentsOnH2(@TempDir Path dir) {
        try (Database database = Database.open(Database.h2Url(dir), null, null, 4)) {
            assertCompartmentsFollowUpdates(database.dataSource());
        }
    }

    @Test
    void updatesAndDeletesMoveAResourceBetweenCompartmentsOnPostgreSql() throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start();
                Database database = Database.open(postgres.getJdbcUrl("postgres", "postgres"), "postgres", null, 4)) {
            assertCompartmentsFollowUpdates(database.dataSource());
        }
    }

    @Test
    void theMigrationFillsThePatientsColumnOnH2(@TempDir Path dir) throws Exception {
        try (Database v4 = openAtVersion4(Database.h2Url(dir), null, "h2")) {
            assertMigrationKeepsCompartments(v4.dataSource(), "h2");
        }
    }

    @Test
    void theMigrationFillsThePatientsColumnOnPostgreSql() throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start();
                Database v4 = openAtVersion4(postgres.getJdbcUrl("postgres", "postgres"), "postgres", "postgresql")) {
            assertMigrationKeepsCompartments(v4.dataSource(), "postgresql");
        }
    }

    private static void assertCompartmentsFollowUpdates(DataSource dataSource) {
        ResourceStore store = new ResourceStore(dataSource, CONTEXT);
        Observation observation = new Observation();
        observation.setId("Observation/moving");
        observation.setStatus(Observation.ObservationStatus.FINAL);
        observation.getCode().setText("weight");
        observation.getSubject().setReference("Patient/alice");
        store.update(observation);
        assertEquals(Map.of("alice", 1, "bob", 0, "anyone", 1), exported(dataSource, store));

        observation.getSubject().setReference("Patient/bob");
        store.update(observation);
        assertEquals(Map.of("alice", 0, "bob", 1, "anyone", 1), exported(dataSource, store));

        observation.addPerformer().setReference("Patient/alice"); // the performer's compartment too
        store.update(observation);
        assertEquals(Map.of("alice", 1, "bob", 1, "anyone", 1), exported(dataSource, store));

        observation.getSubject().setReference("Group/g");
        observation.getPerformer().clear();
        store.update(observation);
        assertEquals(Map.of("alice", 0, "bob", 0, "anyone", 0), exported(dataSource, store));

        observation.getSubject().setReference("Patient/alice");
        store.update(observation);
        store.delete("Observation", "moving");
        assertEquals(Map.of("alice", 0, "bob", 0, "anyone", 0), exported(dataSource, store));
    }

    /**
     * Per patient, how many Observations a Patient-level export of that patient holds, the list
     * matched in SQL and in memory alike ("anyone": an export of all patients).
     */
    private static Map<String, Integer> exported(DataSource dataSource, ResourceStore store) {
        assertRowsMatchColumn(dataSource);
        Map<String, Integer> counts = new TreeMap<>();
        for (int sqlPatientList : new int[] {StoreResourceSource.SQL_PATIENT_LIST, 0}) {
            StoreResourceSource source = new StoreResourceSource(dataSource, store, sqlPatientList, StoreResourceSource.PAGE_BYTES);
            for (String patient : List.of("alice", "bob", "anyone")) {
                Set<String> patients = patient.equals("anyone") ? null : Set.of(patient);
                int count = export(source, new ExportQuery("Observation", null, Instant.now().plusSeconds(1), true,
                        patients)).size();
                Integer before = counts.put(patient, count);
                if (before != null) assertEquals(before, count, "SQL and in-memory matching differ for " + patient);
            }
        }
        return counts;
    }

    /**
     * Each resource's membership rows are exactly the ids in its column, each once (on H2 the table
     * has no unique key: the store alone keeps them unique).
     */
    private static void assertRowsMatchColumn(DataSource dataSource) {
        Map<Long, List<String>> rows = new TreeMap<>();
        Map<Long, List<String>> columns = new TreeMap<>();
        try (Connection connection = dataSource.getConnection(); Statement sql = connection.createStatement()) {
            try (ResultSet row = sql.executeQuery(
                    "SELECT resource_pk, patient_id FROM bf_resource_patient ORDER BY resource_pk, patient_id")) {
                while (row.next()) rows.computeIfAbsent(row.getLong(1), pk -> new ArrayList<>()).add(row.getString(2));
            }
            try (ResultSet row = sql.executeQuery("SELECT pk, patients FROM bf_resource WHERE patients IS NOT NULL")) {
                while (row.next()) columns.put(row.getLong(1), new ArrayList<>(new java.util.TreeSet<>(
                        ResourceStore.patientsOf(row.getString(2)))));
            }
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
        assertEquals(columns, rows);
    }

    private static List<String> export(StoreResourceSource source, ExportQuery query) {
        List<String> lines = new ArrayList<>();
        try {
            source.stream(query, new ResourceSink() {
                @Override
                public void resource(byte[] json) {
                    lines.add(new String(json, StandardCharsets.UTF_8));
                }

                @Override
                public void error(String reference, String message) {
                    throw new AssertionError(reference + ": " + message);
                }
            });
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        return lines;
    }

    private static Database openAtVersion4(String url, String user, String vendor) throws Exception {
        com.zaxxer.hikari.HikariDataSource v4 = new com.zaxxer.hikari.HikariDataSource();
        v4.setJdbcUrl(url);
        if (user != null) v4.setUsername(user);
        Flyway.configure().dataSource(v4).table("bf_schema_history").locations("classpath:db/migration/" + vendor)
                .target("4").load().migrate();
        try (Connection connection = v4.getConnection(); Statement sql = connection.createStatement()) {
            sql.executeUpdate("INSERT INTO bf_resource (pk, res_type, res_id, version, last_updated, deleted, json) VALUES"
                    + " (1, 'Observation', 'two', 1, 0, FALSE, NULL), (2, 'Observation', 'one', 1, 0, FALSE, NULL),"
                    + " (3, 'Organization', 'none', 1, 0, FALSE, NULL)");
            sql.executeUpdate("INSERT INTO bf_resource_patient (patient_id, resource_pk) VALUES"
                    + " ('b', 1), ('a', 1), ('a', 2)");
        }
        v4.close();
        return Database.open(url, user, null, 2); // migrates to the latest version
    }

    private static void assertMigrationKeepsCompartments(DataSource dataSource, String vendor) throws Exception {
        try (Connection connection = dataSource.getConnection(); Statement sql = connection.createStatement()) {
            Map<String, String> columns = new TreeMap<>();
            try (ResultSet rows = sql.executeQuery("SELECT res_id, patients FROM bf_resource")) {
                while (rows.next()) columns.put(rows.getString(1), String.valueOf(rows.getString(2)));
            }
            assertEquals(Map.of("two", "a b", "one", "a", "none", "null"), columns);
            List<String> memberships = new ArrayList<>();
            try (ResultSet rows = sql.executeQuery(
                    "SELECT patient_id, resource_pk FROM bf_resource_patient ORDER BY patient_id, resource_pk")) {
                while (rows.next()) memberships.add(rows.getString(1) + "/" + rows.getLong(2));
            }
            assertEquals(List.of("a/1", "a/2", "b/1"), memberships);
            if (vendor.equals("postgresql")) {
                // PostgreSQL keeps the key (H2 drops it in V6): a membership cannot be stored twice.
                org.junit.jupiter.api.Assertions.assertThrows(java.sql.SQLException.class, () -> sql.executeUpdate(
                        "INSERT INTO bf_resource_patient (patient_id, resource_pk) VALUES ('a', 1)"));
            }
        }
    }
}
