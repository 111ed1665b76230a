package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.storage.Database;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A count is the number of resources the same query's pages find, with or without a filter. */
class ResourceStoreCountTest {

    @TempDir
    static Path dir;

    static Database database;
    static ResourceStore store;

    @BeforeAll
    static void fill() {
        database = Database.open("jdbc:h2:file:" + dir.resolve("db") + "/db", null, null, 2);
        store = new ResourceStore(database.dataSource(), FhirContext.forR4Cached());
        store.inTransaction(writes -> {
            for (int i = 0; i < 7; i++) {
                Observation observation = new Observation();
                observation.setId("Observation/obs-" + i);
                observation.getSubject().setReference("Patient/" + (i % 2 == 0 ? "even" : "odd"));
                writes.update(observation);
            }
            Patient patient = new Patient();
            patient.setId("Patient/even");
            writes.update(patient);
            return null;
        });
        store.delete("Observation", "obs-6");
    }

    @AfterAll
    static void close() {
        database.close();
    }

    @Test
    void countsWhatThePagesFind() {
        Predicate<StoredResource> lowIds = stored -> stored.id().compareTo("obs-3") < 0;
        List<ResourceQuery> queries = List.of(
                query(Set.of(), null, null, null),
                query(Set.of("obs-1", "obs-2", "obs-6", "unknown"), null, null, null),
                query(Set.of(), "even", null, null),
                query(Set.of(), null, lowIds, null),
                query(Set.of(), "odd", lowIds, null),
                query(Set.of(), null, null, Instant.parse("2999-01-01T00:00:00Z")));
        List<Long> expected = List.of(6L, 2L, 3L, 3L, 1L, 0L);
        for (int i = 0; i < queries.size(); i++) {
            assertEquals(expected.get(i), store.count(queries.get(i)), "query " + i);
            assertEquals(expected.get(i), matchesOnAllPages(queries.get(i)), "query " + i);
        }
    }

    private static ResourceQuery query(
            Set<String> ids, String patient, Predicate<StoredResource> filter, Instant from) {
        // A page size of 2 and a cursor, which a count ignores.
        return new ResourceQuery("Observation", ids, from, null, patient, filter, 2, new ResourceQuery.Cursor(true, 0));
    }

    private static long matchesOnAllPages(ResourceQuery query) {
        long total = 0;
        ResourceQuery page = query.withCursor(null);
        while (true) {
            SearchPage found = store.search(page);
            total += found.resources().size();
            if (found.next() == null) return total;
            page = page.withCursor(found.next());
        }
    }
}
