package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.jpa.JpaResourceSource;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * An export from a HAPI JPA host is one point in time: whatever is updated, deleted or created while it
 * streams (here: by another thread, committed, after the first resource has been handed over), each
 * resource that existed at the transaction time comes once, in its version as of then, and nothing else.
 */
class JpaConsistencyTest {

    private static final int OBSERVATIONS = 40;

    private static JpaHost host;
    private static JpaResourceSource source;

    @BeforeAll
    static void start() throws Exception {
        host = JpaHost.inMemory().start();
        source = JpaResourceSource.of(host.spring()).withWriteGrace(Duration.ofMillis(50));
    }

    @AfterAll
    static void stop() throws Exception {
        if (host != null) host.close();
    }

    @Test
    void writesDuringTheExportAreNotSeen() throws Exception {
        for (int i = 0; i < OBSERVATIONS; i++) write("o" + i, Observation.ObservationStatus.FINAL);
        Thread.sleep(5);
        Instant asOf = Instant.now();
        Thread.sleep(5);
        write("o0", Observation.ObservationStatus.AMENDED); // changed after the transaction time, before the export
        host.daos().getResourceDao(Observation.class).delete(new IdType("Observation/o1"), new SystemRequestDetails());

        Map<String, String> versions = new TreeMap<>();
        List<String> errors = new ArrayList<>();
        source.stream(ExportQuery.all("Observation", null, asOf), new ResourceSink() {
            boolean written;

            @Override
            public void resource(byte[] json) throws java.io.IOException {
                Resource resource = (Resource) host.fhirContext().newJsonParser()
                        .parseResource(new String(json, StandardCharsets.UTF_8));
                assertNull(versions.put(resource.getIdElement().getIdPart(), resource.getMeta().getVersionId()),
                        "twice: " + resource.getId());
                if (!written) {
                    written = true;
                    // Committed by another connection while this export reads: every kind of change, on
                    // resources read already and resources not read yet.
                    CompletableFuture.runAsync(() -> {
                        for (int i = 0; i < OBSERVATIONS; i += 3) write("o" + i, Observation.ObservationStatus.CANCELLED);
                        for (int i = 2; i < OBSERVATIONS; i += 7) {
                            host.daos().getResourceDao(Observation.class).delete(new IdType("Observation/o" + i),
                                    new SystemRequestDetails());
                        }
                        write("new", Observation.ObservationStatus.FINAL);
                    }).join();
                }
            }

            @Override
            public void error(String reference, String message) {
                errors.add(reference + ": " + message);
            }
        });
        assertEquals(List.of(), errors);
        Map<String, String> expected = new TreeMap<>();
        for (int i = 0; i < OBSERVATIONS; i++) expected.put("o" + i, "1");
        assertEquals(expected, versions);
        // And after it, the changes are there: the export did not hold them up.
        assertEquals("3", host.daos().getResourceDao(Observation.class)
                .read(new IdType("Observation/o0"), new SystemRequestDetails()).getMeta().getVersionId());
    }

    private static void write(String id, Observation.ObservationStatus status) {
        Observation observation = new Observation().setStatus(status);
        observation.setId(id);
        observation.getCode().setText("heart rate");
        host.daos().getResourceDao(Observation.class).update(observation, new SystemRequestDetails());
    }
}
