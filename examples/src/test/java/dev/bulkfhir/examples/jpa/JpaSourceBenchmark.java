package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.jpa.JpaResourceSource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Quantity;
import org.hl7.fhir.r4.model.Reference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Not a test: a benchmark run by hand ({@code bench/jpa-source.sh}, or {@code -Dbench.jpa=true}). Loads
 * {@code bench.jpa.resources} resources (a tenth Patients, the rest their Observations) into a HAPI JPA
 * host on an H2 file through its system DAO, in transaction Bundles, then exports Patient and
 * Observation through {@link JpaResourceSource} three times and prints resources/s and the heap in use.
 */
@EnabledIfSystemProperty(named = "bench.jpa", matches = "true")
class JpaSourceBenchmark {

    private static final int PER_BUNDLE = 500;
    private static final int OBSERVATIONS_PER_PATIENT = 9;

    @Test
    void exportThroughTheSource(@TempDir Path directory) throws Exception {
        int total = Integer.getInteger("bench.jpa.resources", 100_000);
        try (JpaHost host = JpaHost.inDirectory(directory).start()) {
            // HAPI's own setting for bulk loads: fewer checks and lookups per write
            host.spring().getBean(JpaStorageSettings.class).setMassIngestionMode(true);
            long loadStart = System.nanoTime();
            int loaded = load(host, total);
            double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
            report("loaded %,d resources in %.1f s (%.0f resources/s)", loaded, loadSeconds, loaded / loadSeconds);

            JpaResourceSource source = JpaResourceSource.of(host.spring());
            Instant asOf = Instant.now();
            List<Double> rates = new ArrayList<>();
            for (int run = 1; run <= 3; run++) {
                CountingSink sink = new CountingSink();
                long start = System.nanoTime();
                source.stream(ExportQuery.all("Patient", null, asOf), sink);
                source.stream(ExportQuery.all("Observation", null, asOf), sink);
                double seconds = (System.nanoTime() - start) / 1e9;
                assertEquals(loaded, sink.resources);
                rates.add(sink.resources / seconds);
                Runtime runtime = Runtime.getRuntime();
                System.gc(); // live heap, not garbage awaiting collection
                report("export run %d: %,d resources, %.1f MB in %.1f s = %.0f resources/s; live heap after it %d MB of %d MB",
                        run, sink.resources, sink.bytes / 1e6, seconds, sink.resources / seconds,
                        (runtime.totalMemory() - runtime.freeMemory()) >> 20, runtime.maxMemory() >> 20);
            }
            Collections.sort(rates);
            report("export median: %.0f resources/s", rates.get(1));
        }
    }

    /** Patients each with their Observations, {@value #PER_BUNDLE} entries per transaction Bundle. */
    private static int load(JpaHost host, int total) {
        int patients = total / (1 + OBSERVATIONS_PER_PATIENT);
        int perBundle = PER_BUNDLE / (1 + OBSERVATIONS_PER_PATIENT);
        int loaded = 0;
        for (int first = 0; first < patients; first += perBundle) {
            Bundle bundle = new Bundle().setType(Bundle.BundleType.TRANSACTION);
            for (int p = first; p < Math.min(patients, first + perBundle); p++) {
                String patientUrl = "urn:uuid:" + UUID.randomUUID();
                Patient patient = new Patient();
                patient.addName().setFamily("Bench" + p).addGiven("Pat");
                patient.setGender(p % 2 == 0 ? org.hl7.fhir.r4.model.Enumerations.AdministrativeGender.FEMALE
                        : org.hl7.fhir.r4.model.Enumerations.AdministrativeGender.MALE);
                bundle.addEntry().setFullUrl(patientUrl).setResource(patient).getRequest()
                        .setMethod(Bundle.HTTPVerb.POST).setUrl("Patient");
                for (int o = 0; o < OBSERVATIONS_PER_PATIENT; o++) {
                    Observation observation = new Observation();
                    observation.setStatus(Observation.ObservationStatus.FINAL);
                    observation.getCode().addCoding().setSystem("http://loinc.org").setCode("8867-4")
                            .setDisplay("Heart rate");
                    observation.setSubject(new Reference(patientUrl));
                    observation.setValue(new Quantity().setValue(60 + o).setUnit("/min"));
                    bundle.addEntry().setResource(observation).getRequest()
                            .setMethod(Bundle.HTTPVerb.POST).setUrl("Observation");
                }
            }
            host.daos().getSystemDao().transaction(new SystemRequestDetails(), bundle);
            loaded += bundle.getEntry().size();
        }
        return loaded;
    }

    private static void report(String format, Object... arguments) {
        System.out.println("[bench.jpa] " + String.format(format, arguments));
        System.out.flush();
    }

    private static final class CountingSink implements ResourceSink {
        long resources;
        long bytes;

        @Override
        public void resource(byte[] json) {
            resources++;
            bytes += json.length + 1;
        }

        @Override
        public void error(String reference, String message) {
            throw new AssertionError(reference + ": " + message);
        }
    }
}
