package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Native or wrapped: the read rule's table of {@code _format}, {@code Accept} and the Binary's content type. */
class ReadRuleTest {


    private static SystemRequestDetails request(String format, String accept) {
        SystemRequestDetails request = new SystemRequestDetails();
        request.setRequestType(RequestTypeEnum.GET);
        Map<String, String[]> parameters = new HashMap<>();
        if (format != null) parameters.put("_format", format.split("\\|"));
        request.setParameters(parameters);
        if (accept != null) request.addHeader("Accept", accept);
        return request;
    }

    /** {@code _format} values are separated by '|' (several given), '-' is none; pinned is the _format left after. */
    @ParameterizedTest(name = "_format={0} Accept={1} on {2}: {3}, _format then {4}")
    @CsvSource(delimiter = '#', nullValues = "-", value = {
            "- # - # application/pdf # NATIVE # -",
            "json # - # application/pdf # WRAPPED # json",
            "xml # application/pdf # application/pdf # WRAPPED # xml",
            "ttl # - # application/pdf # WRAPPED # ttl",
            "application/fhir+json # - # application/pdf # WRAPPED # application/fhir+json",
            "' application/json ' # - # application/pdf # WRAPPED # application/json",
            "application/pdf # application/fhir+json # application/pdf # NATIVE # -",
            "APPLICATION/PDF;charset=x # - # application/pdf # NATIVE # -",
            "ndjson # - # application/fhir+ndjson # NATIVE # -",
            "application/ndjson # - # application/fhir+ndjson # NATIVE # -",
            "application/pdf|json # - # application/pdf # WRAPPED # json",
            "- # application/fhir+json # application/pdf # WRAPPED # application/fhir+json",
            "- # application/fhir+xml;q=0.9 # application/pdf # WRAPPED # application/fhir+xml",
            "- # application/json+fhir # application/pdf # WRAPPED # application/json+fhir",
            "- # text/turtle # application/pdf # WRAPPED # text/turtle",
            "- # application/json # application/pdf # NATIVE # -",
            "- # */* # application/pdf # NATIVE # -",
            "- # 'text/html,application/xhtml+xml,*/*;q=0.8' # text/html # NATIVE # -",
            "- # application/fhir+ndjson # application/pdf # NATIVE # -",
            "- # application/fhir+json;q=0 # application/pdf # NATIVE # -",
            "- # 'application/fhir+xml;q=0.5, application/fhir+json' # application/pdf # WRAPPED # application/fhir+json",
            "- # 'application/fhir+xml, application/fhir+json' # application/pdf # WRAPPED # application/fhir+xml",
            "- # application/fhir+json;q=bogus # application/pdf # WRAPPED # application/fhir+json",
    })
    void formatThenAcceptDecide(String format, String accept, String contentType, ReadRule.Form form, String pinned) {
        SystemRequestDetails request = request(format, accept);
        assertThat(ReadRule.decide(request, contentType)).isEqualTo(form);
        String[] left = request.getParameters().get("_format");
        assertThat(left == null ? null : String.join("|", left)).isEqualTo(pinned);
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {"application/pdf; image/png", "ndjson; application/pdf", "html; text/html",
            "foo|bar; application/pdf"})
    void aFormatThatIsNeitherFhirNorTheContentsTypeIs406(String format, String contentType) {
        SystemRequestDetails request = request(format, null);
        assertThatThrownBy(() -> ReadRule.decide(request, contentType))
                .isInstanceOfSatisfying(BaseServerResponseException.class, e -> {
                    assertThat(e.getStatusCode()).isEqualTo(406);
                    assertThat(e.getMessage()).contains("_format=" + format.replace('|', ','));
                });
        assertThat(request.getParameters()).as("the error itself is encodable").doesNotContainKey("_format");
    }

    @Test
    void aBinaryWithoutContentTypeIsNativeOnlyWithoutFormat() {
        assertThat(ReadRule.decide(request(null, null), null)).isEqualTo(ReadRule.Form.NATIVE);
        assertThatThrownBy(() -> ReadRule.decide(request("application/pdf", null), null))
                .isInstanceOf(BaseServerResponseException.class);
    }

    @Test
    void resourceAnswersRefuseANonResourceFormat() {
        ReadRule.requireResourceFormat(request(null, null));
        ReadRule.requireResourceFormat(request("xml", null));
        ReadRule.requireResourceFormat(request("ndjson|json", null));
        assertThatThrownBy(() -> ReadRule.requireResourceFormat(request("ndjson", null)))
                .isInstanceOfSatisfying(BaseServerResponseException.class, e -> assertThat(e.getStatusCode()).isEqualTo(406));
    }

    @Test
    void acceptHeadersAreReadAcrossLinesAndNullsSkipped() {
        assertThat(ReadRule.fhirTypeFromAccept(null)).isNull();
        assertThat(ReadRule.fhirTypeFromAccept(Arrays.asList(null, "application/pdf"))).isNull();
        assertThat(ReadRule.fhirTypeFromAccept(List.of("application/fhir+xml;q=0.2", "APPLICATION/FHIR+JSON;Q=0.4")))
                .isEqualTo("application/fhir+json");
        assertThat(ReadRule.mediaType(" Application/PDF ; charset=utf-8")).isEqualTo("application/pdf");
        assertThat(ReadRule.mediaType(null)).isEmpty();
    }
}
