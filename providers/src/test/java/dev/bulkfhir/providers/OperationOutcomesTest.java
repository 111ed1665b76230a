package dev.bulkfhir.providers;

import ca.uhn.fhir.context.FhirContext;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The shapes clients see: an issue's severity, code, diagnostics and, when given, location. */
class OperationOutcomesTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();

    @Test
    void anIssueIsItsSeverityCodeAndDiagnostics() {
        OperationOutcome built = new OperationOutcome();
        built.addIssue().setSeverity(OperationOutcome.IssueSeverity.ERROR).setCode(OperationOutcome.IssueType.FORBIDDEN)
                .setDiagnostics("No.");
        assertEquals(FHIR.newJsonParser().encodeResourceToString(built),
                FHIR.newJsonParser().encodeResourceToString(OperationOutcomes.forbidden("No.").getOperationOutcome()));
        assertEquals("{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"warning\",\"code\":"
                + "\"informational\",\"diagnostics\":\"Note.\"}]}",
                new String(OperationOutcomes.ndjsonLine("warning", "informational", "Note."), StandardCharsets.UTF_8));
    }

    @Test
    void anIssueMayNameWhereItIs() {
        String json = FHIR.newJsonParser().encodeResourceToString(OperationOutcomes.of(List.of(
                new OperationOutcomes.Issue("error", "invalid", "Bad.", "_since"),
                new OperationOutcomes.Issue("error", "not-supported", "Unknown."))));
        assertEquals("{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"invalid\","
                + "\"diagnostics\":\"Bad.\",\"location\":[\"_since\"]},{\"severity\":\"error\",\"code\":"
                + "\"not-supported\",\"diagnostics\":\"Unknown.\"}]}", json);
    }
}
