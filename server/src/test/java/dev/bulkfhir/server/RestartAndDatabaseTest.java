package dev.bulkfhir.server;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Data outlives the server, on the embedded H2 file database and on PostgreSQL. */
class RestartAndDatabaseTest {

    static {
        FhirContext.forR4Cached().getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.NEVER);
    }

    @Test
    void restartKeepsDataOnH2(@TempDir Path dataDir) throws Exception {
        roundTripAcrossRestart(ServerSettings.defaults(dataDir));
    }

    @Test
    void worksOnPostgreSql(@TempDir Path dataDir) throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            String url = postgres.getJdbcUrl("postgres", "postgres");
            ServerSettings settings = ServerSettings.builder(dataDir).jdbc(url, "postgres", null).build();
            roundTripAcrossRestart(settings);
        }
    }

    private static void roundTripAcrossRestart(ServerSettings settings) throws Exception {
        String patientId;
        try (StandaloneServer server = new StandaloneServer(settings).start()) {
            IGenericClient client = FhirContext.forR4Cached().newRestfulGenericClient(server.baseUrl());
            Patient patient = new Patient();
            patient.addName().setFamily("Persistent");
            patientId = client.create().resource(patient).execute().getId().getIdPart();
            Observation observation = new Observation();
            observation.setStatus(Observation.ObservationStatus.FINAL);
            observation.getCode().setText("heart rate");
            observation.getSubject().setReference("Patient/" + patientId);
            client.create().resource(observation).execute();
            patient.setId(patientId);
            patient.getNameFirstRep().setFamily("Persistent-2");
            client.update().resource(patient).execute();
        }
        try (StandaloneServer server = new StandaloneServer(settings).start()) {
            IGenericClient client = FhirContext.forR4Cached().newRestfulGenericClient(server.baseUrl());
            Patient read = client.read().resource(Patient.class).withId(patientId).execute();
            assertEquals("Persistent-2", read.getNameFirstRep().getFamily());
            assertEquals("2", read.getMeta().getVersionId());
            Bundle observations = client.search().forResource(Observation.class)
                    .where(Observation.PATIENT.hasId(patientId)).returnBundle(Bundle.class).execute();
            assertEquals(1, observations.getEntry().size());
        }
    }
}
