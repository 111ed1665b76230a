package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.jpa.JpaResourceSource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Quantity;
import org.hl7.fhir.r4.model.Reference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import ca.uhn.fhir.jpa.searchparam.SearchParameterMap;
import org.hl7.fhir.r4.model.Group;

import ca.uhn.fhir.rest.api.server.bulk.BulkExportJobParameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Not a test: a benchmark run by hand ({@code bench/jpa-source.sh}, or {@code -Dbench.jpa=true}). Loads
 * {@code bench.jpa.resources} resources (a tenth Patients, the rest their Observations) into a HAPI JPA
 * host on an H2 file, or on an embedded PostgreSQL with {@code bench.jpa.database=postgres}, through its system DAO, in transaction Bundles, then exports Patient and
 * Observation through {@link JpaResourceSource} three times and prints resources/s and the heap in use,
 * then the Patient and Observation data of a Group of {@value #GROUP_SIZE} of the patients three times.
 */
@EnabledIfSystemProperty(named = "bench.jpa", matches = "true")
class JpaSourceBenchmark {

    private static final int PER_BUNDLE = 500;
    private static final int OBSERVATIONS_PER_PATIENT = 9;
    private static final int GROUP_SIZE = 100;
    /** HAPI's export is slow: fewer runs of it (bench.jpa.hapiRuns; 0 skips it). */
    private static final int HAPI_RUNS = Integer.getInteger("bench.jpa.hapiRuns", 1);

    @Test
    void exportThroughTheSource(@TempDir Path temporary) throws Exception {
        int total = Integer.getInteger("bench.jpa.resources", 100_000);
        // bench.jpa.dir keeps the loaded database for the next run (loading is most of a run's time).
        Path directory = System.getProperty("bench.jpa.dir", "").isEmpty() ? temporary
                : Files.createDirectories(Path.of(System.getProperty("bench.jpa.dir")));
        boolean postgres = System.getProperty("bench.jpa.database", "h2").equals("postgres");
        Path loadedMarker = directory.resolve("loaded-" + (postgres ? "postgres-" : "h2-") + total);
        JpaHost database = postgres ? JpaHost.onPostgres(directory.resolve("postgres")) : JpaHost.inDirectory(directory);
        try (JpaHost host = database.start()) {
            report("HAPI JPA host on %s", postgres ? "PostgreSQL (embedded)" : "H2 (file)");
            int loaded = total / (1 + OBSERVATIONS_PER_PATIENT) * (1 + OBSERVATIONS_PER_PATIENT);
            if (Files.exists(loadedMarker)) {
                report("reusing the %,d resources loaded in %s", loaded, directory);
            } else {
                // HAPI's own setting for bulk loads: fewer checks and lookups per write
                host.spring().getBean(JpaStorageSettings.class).setMassIngestionMode(true);
                long loadStart = System.nanoTime();
                assertEquals(loaded, load(host, total));
                double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
                report("loaded %,d resources in %.1f s (%.0f resources/s)", loaded, loadSeconds, loaded / loadSeconds);
                host.spring().getBean(JpaStorageSettings.class).setMassIngestionMode(false);
                Files.createFile(loadedMarker);
            }

            // Nothing writes while it runs: no need to wait for writes stamped before the transaction time.
            JpaResourceSource source = JpaResourceSource.of(host.spring()).withWriteGrace(Duration.ZERO);
            String groupId = groupOfPatients(host, GROUP_SIZE);
            Set<String> members = source.groupMembers(groupId, Instant.now()).orElseThrow();
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

            List<Double> groupSeconds = new ArrayList<>();
            for (int run = 1; run <= 3; run++) {
                CountingSink sink = new CountingSink();
                long start = System.nanoTime();
                source.stream(new ExportQuery("Patient", null, asOf, true, members), sink);
                source.stream(new ExportQuery("Observation", null, asOf, true, members), sink);
                double seconds = (System.nanoTime() - start) / 1e9;
                assertEquals(GROUP_SIZE * (1 + OBSERVATIONS_PER_PATIENT), sink.resources);
                groupSeconds.add(seconds);
                report("group export run %d: %,d patients, %,d resources in %.3f s", run, GROUP_SIZE, sink.resources, seconds);
            }
            Collections.sort(groupSeconds);
            report("group export median: %.3f s for a Group of %d patients in %,d resources", groupSeconds.get(1),
                    GROUP_SIZE, loaded);

            // HAPI's own bulk export (Batch2) of the same types, on the same host and data.
            HapiBulkExport hapi = new HapiBulkExport(host);
            List<Double> hapiRates = new ArrayList<>();
            for (int run = 1; run <= HAPI_RUNS; run++) {
                long start = System.nanoTime();
                long exported = hapi.export(BulkExportJobParameters.ExportStyle.SYSTEM, null);
                double seconds = (System.nanoTime() - start) / 1e9;
                assertEquals(loaded, exported);
                hapiRates.add(exported / seconds);
                report("hapi export run %d: %,d resources in %.1f s = %.0f resources/s", run, exported, seconds,
                        exported / seconds);
            }
            List<Double> hapiGroupSeconds = new ArrayList<>();
            for (int run = 1; run <= HAPI_RUNS; run++) {
                long start = System.nanoTime();
                long exported = hapi.export(BulkExportJobParameters.ExportStyle.GROUP, "Group/" + groupId);
                double seconds = (System.nanoTime() - start) / 1e9;
                assertEquals(GROUP_SIZE * (1 + OBSERVATIONS_PER_PATIENT), exported);
                hapiGroupSeconds.add(seconds);
                report("hapi group export run %d: %,d resources in %.3f s", run, exported, seconds);
            }
            double ours = rates.get(1);
            if (HAPI_RUNS == 0) {
                report("jpa: ours %.0f resources/s, hapi not run (bench.jpa.hapiRuns=0)", ours);
                return;
            }
            double theirs = median(hapiRates);
            report("group export: ours %.3f s, hapi %.3f s", groupSeconds.get(1), median(hapiGroupSeconds));
            report("jpa: ours %.0f resources/s, hapi %.0f resources/s, ratio %.1f", ours, theirs, ours / theirs);
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }

    /** A Group of {@code size} Patients in the host: its id. */
    private static String groupOfPatients(JpaHost host, int size) {
        SearchParameterMap firstPatients = SearchParameterMap.newSynchronous();
        Set<String> ids = new LinkedHashSet<>();
        Group group = new Group().setType(Group.GroupType.PERSON).setActual(true);
        for (Patient patient : host.daos().getResourceDao(Patient.class).searchForResources(firstPatients,
                new SystemRequestDetails()).subList(0, size)) {
            ids.add(patient.getIdElement().getIdPart());
            group.addMember().setEntity(new Reference("Patient/" + patient.getIdElement().getIdPart()));
        }
        assertEquals(size, ids.size());
        return host.daos().getResourceDao(Group.class).create(group, new SystemRequestDetails()).getId().getIdPart();
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
