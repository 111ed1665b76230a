package dev.bulkfhir.server.export;

import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.demo.DemoData;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** The export's SQL and the job table on PostgreSQL, the database for several nodes. */
class ExportPostgresTest {

    @Test
    void exportsAreExactOnPostgreSql(@TempDir Path dataDir) throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            String url = postgres.getJdbcUrl("postgres", "postgres");
            // Both patient-list paths: the Group (5 members) in memory, two patients in SQL; types cut
            // into ranges of 40 resources; pages ended by size (16 KB) every few rows, through the cursor.
            try (EmbeddedExportServer server = new EmbeddedExportServer(dataDir, url, "postgres",
                    ExportSettings.defaults().withRangeResources(40), 3, 16 * 1024)) {
                int patients = 15;
                DemoData.populate(server.store, patients, 5);
                BulkClient client = new BulkClient(server.base);
                Map<String, List<IBaseResource>> all = client.download(client.await(client.start("$export")));
                assertEquals(patients, all.get("Patient").size());
                ExportControlTest.assertExactCompartmentExports(client, patients, 5);

                // The snapshot rule through PostgreSQL's history table.
                server.source.shut();
                String status = client.start("$export?_type=Patient");
                Patient changed = (Patient) BulkClient.CONTEXT.newJsonParser().parseResource(
                        server.store.read("Patient", DemoData.patientId(4)).orElseThrow().jsonText());
                changed.setActive(false);
                server.store.update(changed);
                server.store.delete("Patient", DemoData.patientId(5));
                server.source.open();
                Map<String, List<IBaseResource>> snapshot = client.download(client.await(status));
                assertEquals(patients, snapshot.get("Patient").size());
                Patient exported = (Patient) snapshot.get("Patient").stream()
                        .filter(p -> p.getIdElement().getIdPart().equals(DemoData.patientId(4))).findFirst().orElseThrow();
                assertFalse(exported.hasActive() && !exported.getActive(), "the version before the change");
            }
        }
    }
}
