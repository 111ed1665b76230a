package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.FhirContext;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** Whose patient compartments a resource is in: only local references to a Patient, on the compartment's paths. */
class PatientCompartmentTest {

    private static final FhirContext CONTEXT = FhirContext.forR4Cached();
    private static final String OBSERVATION = "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"}";

    private final PatientCompartment compartment = new PatientCompartment(CONTEXT);

    record Case(String json, Set<String> patients) {
        @Override
        public String toString() {
            return json + " -> " + patients;
        }
    }

    static List<Case> resources() {
        return List.of(
                new Case(OBSERVATION + ",\"subject\":{\"reference\":\"Group/g\"},\"performer\":[{\"reference\":\"Patient/a\"},{\"reference\":\"Practitioner/b\"}]}", Set.of("a")),
                new Case(OBSERVATION + ",\"subject\":{\"reference\":\"http://other/fhir/Patient/x\"}}", Set.of("x")), // the id part, as HAPI's terser has it
                new Case(OBSERVATION + ",\"subject\":{\"reference\":\"Patient/p/_history/3\"}}", Set.of("p")),
                new Case(OBSERVATION + ",\"subject\":{\"display\":\"no reference\"}}", Set.of()),
                new Case(OBSERVATION + ",\"focus\":[{\"reference\":\"Patient/f\"}]}", Set.of()),
                new Case(OBSERVATION + ",\"contained\":[{\"resourceType\":\"Patient\",\"id\":\"c\"}],\"subject\":{\"reference\":\"#c\"}}", Set.of()),
                new Case("{\"resourceType\":\"Provenance\",\"target\":[{\"reference\":\"Patient/t\"},{\"reference\":\"Observation/o\"}],\"recorded\":\"2020-01-01T00:00:00Z\",\"agent\":[{\"who\":{\"reference\":\"Patient/w\"}}]}", Set.of("t")),
                new Case("{\"resourceType\":\"AppointmentResponse\",\"appointment\":{\"reference\":\"Appointment/a\"},\"actor\":{\"reference\":\"Patient/r\"},\"participantStatus\":\"accepted\"}", Set.of("r")),
                new Case("{\"resourceType\":\"Encounter\",\"status\":\"finished\",\"class\":{\"code\":\"AMB\"},\"subject\":{\"reference\":\"Patient/s\"},\"participant\":[{\"individual\":{\"reference\":\"Practitioner/p\"}}]}", Set.of("s")),
                new Case("{\"resourceType\":\"Patient\",\"id\":\"me\",\"link\":[{\"other\":{\"reference\":\"Patient/other\"},\"type\":\"seealso\"}]}", Set.of("me", "other")),
                new Case("{\"resourceType\":\"Patient\"}", Set.of()),
                new Case("{\"resourceType\":\"Group\",\"type\":\"person\",\"actual\":true,\"member\":[{\"entity\":{\"reference\":\"Patient/m\"}}]}", Set.of("m")),
                new Case("{\"resourceType\":\"Organization\",\"name\":\"o\"}", Set.of()));
    }

    @ParameterizedTest
    @MethodSource("resources")
    void theCompartmentsOfAResource(Case resource) {
        assertThat(compartment.patientIds(CONTEXT.newJsonParser().parseResource(resource.json())))
                .containsExactlyInAnyOrderElementsOf(resource.patients());
    }
}
