package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** One _typeFilter query: which resources it matches, and what it refuses with a message naming why. */
class TypeFilterTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();
    private static final String OBSERVATION = "{\"resourceType\":\"Observation\",\"id\":\"o1\","
            + "\"meta\":{\"lastUpdated\":\"2024-03-01T10:00:00Z\"},\"status\":\"final\","
            + "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-category\","
            + "\"code\":\"laboratory\"}]}],\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"1234-5\"}]},"
            + "\"subject\":{\"reference\":\"Patient/p1\"},\"effectiveDateTime\":\"2024-02-15T08:30:00Z\"}";
    private static final String PATIENT = "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"gender\":\"female\","
            + "\"birthDate\":\"1970-05\",\"identifier\":[{\"system\":\"urn:mrn\",\"value\":\"42\"}],"
            + "\"telecom\":[{\"system\":\"phone\",\"value\":\"555\"}],\"generalPractitioner\":[{\"reference\":\"Practitioner/d\"}]}";
    private static final String ENCOUNTER = "{\"resourceType\":\"Encounter\",\"status\":\"finished\","
            + "\"class\":{\"code\":\"AMB\"},\"period\":{\"start\":\"2024-01-10\",\"end\":\"2024-01-12\"}}";

    /** The resource a filter is tried on: the one its type names. */
    private static String resourceFor(String filter) {
        return switch (filter.substring(0, filter.indexOf('?'))) {
            case "Observation" -> OBSERVATION;
            case "Patient" -> PATIENT;
            default -> ENCOUNTER;
        };
    }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', value = {
            "Observation?status=final # true",
            "Observation?status=final,amended # true",
            "Observation?status=amended # false",
            "Observation?category=laboratory # true",
            "Observation?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory # true",
            "Observation?category=http://other|laboratory # false",
            "Observation?category=|laboratory # false",
            "Observation?code=http://loinc.org| # true",
            "Observation?code=1234-5&status=final # true",
            "Observation?code=1234-5&status=cancelled # false",
            "Observation?subject=Patient/p1 # true",
            "Observation?subject=p1 # true",
            "Observation?subject:Patient=p1 # true",
            "Observation?subject:Group=p1 # false",
            "Observation?subject=http://example.org/fhir/Patient/p1 # true",
            "Observation?patient=Patient/p2 # false",
            "Observation?_id=o1 # true",
            "Observation?_lastUpdated=ge2024-03-01 # true",
            "Observation?_lastUpdated=lt2024-03-01 # false",
            "Observation?date=2024-02 # true",
            "Observation?date=2024-02-15 # true",
            "Observation?date=2024-02-16 # false",
            "Observation?date=ge2024-02-15T08:30:00Z # true",
            "Observation?date=gt2024-02-15T08:30:00Z # false",
            "Observation?date=ne2024-01 # true",
            "Observation?date=sa2024-01-31 # true",
            "Observation?date=eb2024-01-31 # false",
            "Observation?date=2024-02-15T09:30:00+01:00 # true",
            "Observation?date=ge2024-02-15T09:30:00%2B01:00 # true",
            "Observation?status=x\\,y,final # true",
            "Patient?gender=female # true",
            "Patient?gender=http://hl7.org/fhir/administrative-gender|female # true",
            "Patient?identifier=urn:mrn|42 # true",
            "Patient?identifier=42 # true",
            "Patient?identifier=urn:other|42 # false",
            "Patient?telecom=phone|555 # true",
            "Patient?birthdate=1970 # true",
            "Patient?birthdate=1970-05-10 # false",
            "Patient?birthdate=le1970-05-10 # true",
            "Patient?general-practitioner=Practitioner/d # true",
            "Patient?general-practitioner=Organization/d # false",
            "Patient?_id=p2 # false",
            "Encounter?date=2024-01-11 # false",
            "Encounter?date=2024-01 # true",
            "Encounter?date=ge2024-01-11 # true",
            "Encounter?date=lt2024-01-11 # true",
            "Encounter?date=gt2024-01-12 # false",
            "Encounter?date=sa2024-01-09 # true",
            "Encounter?date=eb2024-01-13 # true",
            "Encounter?class=AMB # true",
    })
    void matches(String filter, boolean expected) throws TypeFilter.Unsupported {
        IBaseResource resource = FHIR.newJsonParser().parseResource(resourceFor(filter));
        assertThat(TypeFilter.parse(FHIR, filter).matches(resource, FHIR.newTerser())).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', value = {
            "Observation # is not of the form [type]?[search parameters]",
            "?status=final # is not of the form",
            "Nonsense?status=final # is not an R4 resource type",
            "Observation? # has no search parameters",
            "Observation?& # has no search parameters",
            "Observation?status # is not a name=value search parameter",
            "Observation?=final # is not a name=value search parameter",
            "Observation?_sort=date # which a _typeFilter must not use",
            "Observation?_count=1 # which a _typeFilter must not use",
            "Observation?nonsense=1 # Observation has no search parameter 'nonsense'",
            "Observation?status= # parameter 'status' has no value",
            "Observation?status:not=final # modifier :not of 'status' is not supported",
            "Observation?subject:identifier=x # modifier :identifier of 'subject' is not supported",
            "Observation?value-quantity=5 # (quantity) is not supported here",
            "Patient?name=Smith # (string) is not supported here",
            "Observation?date=yesterday # is not a valid date for 'date'",
            "Observation?date=ap2024-01-01 # the 'ap' prefix of 'date' is not supported",
    })
    void whatCannotBeEvaluatedIsRefusedByName(String filter, String message) {
        assertThatThrownBy(() -> TypeFilter.parse(FHIR, filter))
                .isInstanceOf(TypeFilter.Unsupported.class)
                .hasMessageContaining("'" + filter + "'")
                .hasMessageContaining(message);
    }

    @Test
    void theFilterKnowsItsTypeAndText() throws TypeFilter.Unsupported {
        TypeFilter filter = TypeFilter.parse(FHIR, "Observation?status=final");
        assertThat(filter.type()).isEqualTo("Observation");
        assertThat(filter).hasToString("Observation?status=final");
    }

    @Test
    void supportsAnswersForTheCapabilityStatement() {
        assertThat(TypeFilter.supports(FHIR, "Observation", "code")).isTrue();
        assertThat(TypeFilter.supports(FHIR, "Observation", "date")).isTrue();
        assertThat(TypeFilter.supports(FHIR, "Observation", "subject")).isTrue();
        assertThat(TypeFilter.supports(FHIR, "Observation", "value-quantity")).isFalse();
        assertThat(TypeFilter.supports(FHIR, "Patient", "name")).isFalse();
        assertThat(TypeFilter.supports(FHIR, "Patient", "nonsense")).isFalse();
    }
}
