package dev.bulkfhir.server.bench;

import ca.uhn.fhir.context.FhirContext;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Condition;
import org.hl7.fhir.r4.model.Encounter;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Quantity;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Posts Synthea-style transaction Bundles (POST entries with urn:uuid references) to a running
 * server and prints resources/s. Usage: TransactionBench BASE_URL BUNDLES CLIENT_THREADS.
 */
public final class TransactionBench {

    private static final int RESOURCES_PER_BUNDLE = 1 + 4 + 20 + 5;

    public static void main(String[] args) throws Exception {
        String base = args[0];
        int bundles = Integer.parseInt(args[1]);
        int threads = Integer.parseInt(args[2]);
        FhirContext context = FhirContext.forR4Cached();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        // Encode up front so that the client's own work is not measured.
        List<String> bodies = new ArrayList<>(bundles);
        for (int i = 0; i < bundles; i++) {
            bodies.add(context.newJsonParser().encodeResourceToString(bundle(i)));
        }
        AtomicLong failures = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        long start = System.nanoTime();
        List<Future<?>> futures = new ArrayList<>();
        for (String body : bodies) {
            futures.add(pool.submit(() -> {
                HttpRequest request = HttpRequest.newBuilder(URI.create(base))
                        .header("Content-Type", "application/fhir+json")
                        .header("Prefer", "return=minimal")
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
                HttpResponse<Void> response = http.send(request, HttpResponse.BodyHandlers.discarding());
                if (response.statusCode() != 200) failures.incrementAndGet();
                return null;
            }));
        }
        for (Future<?> future : futures) future.get();
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        long resources = (long) bundles * RESOURCES_PER_BUNDLE;
        System.out.printf("transactions: %d bundles, %d resources in %.2f s = %.0f resources/s (%d failed)%n",
                bundles, resources, seconds, resources / seconds, failures.get());
    }

    static Bundle bundle(int index) {
        Bundle bundle = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        String patientUrl = "urn:uuid:" + UUID.randomUUID();
        Patient patient = new Patient();
        patient.addName().setFamily("Bench" + index).addGiven("Pat");
        patient.setGender(org.hl7.fhir.r4.model.Enumerations.AdministrativeGender.OTHER);
        add(bundle, patientUrl, patient);
        List<String> encounters = new ArrayList<>();
        for (int e = 0; e < 4; e++) {
            Encounter encounter = new Encounter();
            encounter.setStatus(Encounter.EncounterStatus.FINISHED);
            encounter.getClass_().setSystem("http://terminology.hl7.org/CodeSystem/v3-ActCode").setCode("AMB");
            encounter.getSubject().setReference(patientUrl);
            String url = "urn:uuid:" + UUID.randomUUID();
            encounters.add(url);
            add(bundle, url, encounter);
        }
        for (int o = 0; o < 20; o++) {
            Observation observation = new Observation();
            observation.setStatus(Observation.ObservationStatus.FINAL);
            observation.getCode().addCoding().setSystem("http://loinc.org").setCode("8867-4").setDisplay("Heart rate");
            observation.setValue(new Quantity().setValue(60 + o).setUnit("/min")
                    .setSystem("http://unitsofmeasure.org").setCode("/min"));
            observation.getSubject().setReference(patientUrl);
            observation.getEncounter().setReference(encounters.get(o % encounters.size()));
            add(bundle, "urn:uuid:" + UUID.randomUUID(), observation);
        }
        for (int c = 0; c < 5; c++) {
            Condition condition = new Condition();
            condition.getCode().addCoding().setSystem("http://snomed.info/sct").setCode("44054006");
            condition.getSubject().setReference(patientUrl);
            add(bundle, "urn:uuid:" + UUID.randomUUID(), condition);
        }
        return bundle;
    }

    private static void add(Bundle bundle, String fullUrl, org.hl7.fhir.r4.model.Resource resource) {
        bundle.addEntry().setFullUrl(fullUrl).setResource(resource)
                .getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl(resource.fhirType());
    }
}
