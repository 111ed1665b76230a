package dev.bulkfhir.storage.source;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.StoredResource;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The built-in store on H2 as the export reads it: the version current at the transaction time, _since,
 * patient compartments (matched in SQL and, for long lists, in memory), key ranges and deletions; and
 * the store's own version history.
 */
class StoreResourceSourceTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();

    @TempDir
    static Path dir;
    static Database database;
    static ResourceStore store;
    /** Before anything was written. */
    static Instant start;
    /** After the first state (a, b, obs-1..4, group), before the changes. */
    static Instant snapshot;

    @BeforeAll
    static void fill() throws InterruptedException {
        database = Database.open("jdbc:h2:file:" + dir.resolve("db") + "/db", null, null, 2);
        store = new ResourceStore(database.dataSource(), FHIR);
        start = Instant.now();
        Thread.sleep(5);
        store.inTransaction(writes -> {
            writes.update(patient("a"));
            writes.update(patient("b"));
            writes.update(observation("obs-1", "a"));
            writes.update(observation("obs-2", "b"));
            writes.update(observation("obs-3", "a"));
            writes.update(observation("obs-4", null));
            Group group = new Group();
            group.setId("Group/g");
            group.setType(Group.GroupType.PERSON).setActual(true);
            group.addMember().getEntity().setReference("Patient/a");
            writes.update(group);
            return null;
        });
        Thread.sleep(5);
        snapshot = Instant.now();
        Thread.sleep(5);
        store.update(observation("obs-1", "b")); // moves from a's compartment to b's
        store.delete("Observation", "obs-2");
        store.update(observation("obs-5", "a")); // new after the snapshot
        store.update(patient("c"));
    }

    @AfterAll
    static void close() {
        database.close();
    }

    static Patient patient(String id) {
        Patient patient = new Patient();
        patient.setId("Patient/" + id);
        return patient;
    }

    static Observation observation(String id, String patient) {
        Observation observation = new Observation();
        observation.setId("Observation/" + id);
        observation.setStatus(Observation.ObservationStatus.FINAL);
        observation.getCode().setText("x");
        if (patient != null) observation.getSubject().setReference("Patient/" + patient);
        return observation;
    }

    /** Collects ids with the subject, or the compartments the source handed over with each line. */
    static final class Collected implements ResourceSink {
        final boolean wantsPatients;
        final Map<String, String> lines = new LinkedHashMap<>();
        final List<String> errors = new ArrayList<>();

        Collected(boolean wantsPatients) {
            this.wantsPatients = wantsPatients;
        }

        @Override
        public void resource(byte[] json) {
            resource(json, null);
        }

        @Override
        public boolean wantsPatients() {
            return wantsPatients;
        }

        @Override
        public void resource(byte[] json, Set<String> patients) {
            var resource = FHIR.newJsonParser().parseResource(new String(json, StandardCharsets.UTF_8));
            String subject = resource instanceof Observation o && o.hasSubject() ? o.getSubject().getReference() : "";
            lines.put(resource.getIdElement().getIdPart(), patients != null ? String.join(" ", patients) : subject);
        }

        @Override
        public void error(String reference, String message) {
            errors.add(reference);
        }
    }

    static Map<String, String> export(StoreResourceSource source, ExportQuery query, boolean wantsPatients)
            throws IOException {
        Collected sink = new Collected(wantsPatients);
        source.stream(query, sink);
        assertThat(sink.errors).isEmpty();
        return sink.lines;
    }

    @Test
    void theVersionCurrentAtTheTransactionTimeIsExported() throws IOException {
        StoreResourceSource source = new StoreResourceSource(database.dataSource(), store);
        assertThat(export(source, ExportQuery.all("Observation", null, snapshot), false)).containsExactlyInAnyOrderEntriesOf(
                Map.of("obs-1", "Patient/a", "obs-2", "Patient/b", "obs-3", "Patient/a", "obs-4", ""));
        assertThat(export(source, ExportQuery.all("Observation", null, Instant.now()), false))
                .containsOnlyKeys("obs-1", "obs-3", "obs-4", "obs-5").containsEntry("obs-1", "Patient/b");
        assertThat(export(source, ExportQuery.all("Observation", snapshot, Instant.now()), false))
                .as("_since: what changed after it").containsOnlyKeys("obs-1", "obs-5");
        assertThat(export(source, ExportQuery.all("Observation", null, start), false)).isEmpty();
    }

    /** 500: the patient list is matched in SQL; 1: in memory, page by page. */
    @ParameterizedTest
    @ValueSource(ints = {500, 1})
    void aPatientListKeepsTheirCompartmentsAsOfTheTransactionTime(int sqlPatientList) throws IOException {
        StoreResourceSource source = new StoreResourceSource(database.dataSource(), store, sqlPatientList, 1 << 20);
        assertThat(export(source, new ExportQuery("Observation", null, snapshot, true, Set.of("a", "c")), false))
                .containsOnlyKeys("obs-1", "obs-3");
        assertThat(export(source, new ExportQuery("Observation", null, Instant.now(), true, Set.of("a", "c")), false))
                .containsOnlyKeys("obs-3", "obs-5");
        assertThat(export(source, new ExportQuery("Observation", null, Instant.now(), true, Set.of("b", "x")), true))
                .containsExactlyInAnyOrderEntriesOf(Map.of("obs-1", "b"));
        assertThat(export(source, new ExportQuery("Observation", null, snapshot, true, null), false))
                .as("any patient's compartment").containsOnlyKeys("obs-1", "obs-2", "obs-3");
        assertThat(export(source, new ExportQuery("Observation", null, snapshot, true, Set.of()), false)).isEmpty();
    }

    @Test
    void rangesSplitATypeSoThatEachResourceIsInExactlyOne() throws IOException {
        StoreResourceSource source = new StoreResourceSource(database.dataSource(), store, 500, 1);
        List<String> seen = new ArrayList<>();
        KeyRange range = source.firstRange("Observation", KeyRange.ALL, 2);
        assertThat(range.upTo()).isNotNull();
        seen.addAll(export(source, ExportQuery.all("Observation", null, Instant.now()).in(range), false).keySet());
        KeyRange rest = new KeyRange(range.upTo(), null);
        assertThat(source.firstRange("Observation", rest, 100)).isEqualTo(rest);
        seen.addAll(export(source, ExportQuery.all("Observation", null, Instant.now()).in(rest), false).keySet());
        assertThat(seen).containsExactlyInAnyOrder("obs-1", "obs-3", "obs-4", "obs-5");
    }

    @Test
    void aDeletionAfterSinceIsReportedWithItsLastVersion() throws IOException {
        StoreResourceSource source = new StoreResourceSource(database.dataSource(), store);
        Map<String, String> deleted = new LinkedHashMap<>();
        source.streamDeleted(new ExportQuery("Observation", snapshot, Instant.now(), true, Set.of("b")),
                (id, at, last) -> deleted.put(id, new String(last, StandardCharsets.UTF_8)));
        assertThat(deleted).containsOnlyKeys("obs-2");
        assertThat(deleted.get("obs-2")).contains("Patient/b");
        source.streamDeleted(new ExportQuery("Observation", snapshot, Instant.now(), true, Set.of("a")),
                (id, at, last) -> deleted.put("other " + id, ""));
        assertThat(deleted).as("not in a's compartment").hasSize(1);
        source.streamDeleted(ExportQuery.all("Observation", null, Instant.now()),
                (id, at, last) -> deleted.put("no since " + id, ""));
        assertThat(deleted).as("without _since nothing is a deletion").hasSize(1);
    }

    @Test
    void groupsPatientsAndReadsAreAsOfTheTransactionTime() {
        StoreResourceSource source = new StoreResourceSource(database.dataSource(), store);
        assertThat(source.groupMembers("g", snapshot)).contains(Set.of("a"));
        assertThat(source.groupMembers("g", start)).isEmpty();
        assertThat(source.existingPatients(Set.of("a", "c", "zzz"), snapshot)).containsExactly("a");
        assertThat(source.existingPatients(Set.of("a", "c", "zzz"), Instant.now())).containsExactlyInAnyOrder("a", "c");
        assertThat(source.read("Observation", "obs-2", snapshot)).isPresent();
        assertThat(source.read("Observation", "obs-2", Instant.now())).isEmpty();
        assertThat(source.hasData("Observation")).isTrue();
        assertThat(source.hasData("Encounter")).isFalse();
    }

    @Test
    void theStoreKeepsEveryVersionNewestFirst() {
        List<StoredResource> history = store.history("Observation", "obs-2");
        assertThat(history).extracting(StoredResource::version).containsExactly(2L, 1L);
        assertThat(history.get(0).deleted()).isTrue();
        assertThat(store.vread("Observation", "obs-2", 1)).get().extracting(StoredResource::deleted).isEqualTo(false);
        assertThat(store.vread("Observation", "obs-2", 3)).isEmpty();
        assertThat(store.read("Observation", "obs-1")).get().extracting(StoredResource::version).isEqualTo(2L);
        assertThat(store.history("Observation", "never")).isEmpty();
        assertThat(store.isEmpty()).isFalse();
    }
}
