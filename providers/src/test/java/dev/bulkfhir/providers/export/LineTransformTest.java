package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What _typeFilter and _elements make of a stored line; a type without either is never parsed. */
class LineTransformTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();
    private static final byte[] OBSERVATION = ("{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\","
            + "\"code\":{\"text\":\"x\"},\"subject\":{\"reference\":\"Patient/p\"},"
            + "\"effectiveDateTime\":\"2024-02-15\",\"valueQuantity\":{\"value\":1.50}}").getBytes(StandardCharsets.UTF_8);

    private static TypeFilter filter(String text) throws TypeFilter.Unsupported {
        return TypeFilter.parse(FHIR, text);
    }

    private static String apply(List<TypeFilter> filters, List<String> elements) {
        byte[] line = LineTransform.of(FHIR, "Observation", filters, elements).apply(OBSERVATION);
        return line == null ? null : new String(line, StandardCharsets.UTF_8);
    }

    @Test
    void withoutFiltersOrElementsNothingIsParsed() {
        assertThat(LineTransform.of(FHIR, "Observation", List.of(), List.of())).isNull();
    }

    @Test
    void theQueriesOfATypeAreOredAndAMatchIsWrittenAsStored() throws TypeFilter.Unsupported {
        LineTransform transform = LineTransform.of(FHIR, "Observation",
                List.of(filter("Observation?status=amended"), filter("Observation?subject=Patient/p")), List.of());
        assertThat(transform.apply(OBSERVATION)).isSameAs(OBSERVATION);
        assertThat(apply(List.of(filter("Observation?status=amended"), filter("Observation?subject=Patient/q")),
                List.of())).isNull();
    }

    @ParameterizedTest(name = "_elements={0}")
    @CsvSource(delimiter = '#', value = {
            "Observation.subject # subject # effectiveDateTime,valueQuantity",
            "subject # subject # effectiveDateTime,valueQuantity",
            "value # valueQuantity # subject,effectiveDateTime",
            "Observation.effective,Observation.value # effectiveDateTime,valueQuantity # subject",
            "Patient.gender # status # subject,effectiveDateTime,valueQuantity",
    })
    void elementsKeepTheListedRootElementsAndTheMandatoryOnes(String elements, String kept, String dropped) {
        String line = apply(List.of(), List.of(elements.split(",")));
        assertThat(line).contains("\"status\":\"final\"", "\"code\":", "SUBSETTED");
        for (String name : kept.split(",")) assertThat(line).contains("\"" + name + "\"");
        for (String name : dropped.split(",")) assertThat(line).doesNotContain("\"" + name + "\"");
    }

    @Test
    void filtersApplyBeforeElements() throws TypeFilter.Unsupported {
        assertThat(apply(List.of(filter("Observation?status=amended")), List.of("subject"))).isNull();
        assertThat(apply(List.of(filter("Observation?status=final")), List.of("subject")))
                .contains("\"subject\"").doesNotContain("valueQuantity");
    }
}
