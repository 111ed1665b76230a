package dev.bulkfhir.providers.auth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The SMART scope model: v1 and v2 syntax, what each grants, and the granted intersection. */
class SmartScopeTest {

    static String granted(String asked, String registered) {
        return SmartScope.join(SmartScope.grant(SmartScope.parseAll(asked), SmartScope.parseAll(registered)));
    }

    @Test
    void v1AndV2MeanTheSamePermissions() {
        assertEquals(Permission.V1_READ, SmartScope.parse("system/*.read").orElseThrow().permissions());
        assertEquals(Permission.V1_READ, SmartScope.parse("system/*.rs").orElseThrow().permissions());
        assertEquals(Permission.V1_WRITE, SmartScope.parse("system/Patient.write").orElseThrow().permissions());
        assertEquals(Permission.V1_WRITE, SmartScope.parse("system/Patient.cud").orElseThrow().permissions());
        assertEquals(Permission.ALL, SmartScope.parse("system/*.*").orElseThrow().permissions());
        assertEquals(Permission.ALL, SmartScope.parse("system/*.cruds").orElseThrow().permissions());
    }

    @Test
    void onlyPlainSystemScopesCount() {
        for (String other : List.of("patient/*.read", "user/Patient.rs", "launch", "openid", "system/*.", "system/*.sr",
                "system/Observation.rs?category=laboratory", "system/patient.read", "system/*.rw")) {
            assertTrue(SmartScope.parse(other).isEmpty(), other);
        }
    }

    @Test
    void grantIsAskedCutToRegistered() {
        assertEquals("system/*.read", granted("system/*.read", "system/*.*"));
        assertEquals("system/*.rs", granted("system/*.cruds", "system/*.read"));
        assertEquals("system/Patient.read system/Observation.read", granted("system/*.read",
                "system/Patient.read system/Observation.rs"));
        assertEquals("system/Patient.r", granted("system/Patient.r", "system/*.read"));
        assertEquals("", granted("system/*.write", "system/*.read"));
        assertEquals("", granted("system/Encounter.read", "system/Patient.read"));
        // Nothing granted twice, nothing already covered by another granted scope.
        assertEquals("system/*.read", granted("system/*.read system/Patient.read system/*.rs", "system/*.*"));
    }

    @Test
    void clientAccessAnswersTheExportQuestions() {
        ClientAccess access = ClientAccess.of("c", SmartScope.parseAll("system/Patient.read system/Observation.r"));
        assertEquals(List.of("Patient"), access.readableTypes(List.of("Patient", "Observation", "Encounter")));
        assertTrue(access.mayRead("Patient"));
        assertFalse(access.mayRead("Observation"), "export needs rs, r alone is not enough");
        assertTrue(access.permits("Observation", Permission.READ));
        assertFalse(access.permits("Observation", Permission.SEARCH));
        assertEquals("system/Encounter.read (SMART v2: system/Encounter.rs)",
                SmartScope.describe("Encounter", Permission.V1_READ));
        assertEquals("system/*.* (SMART v2: system/*.cruds)", SmartScope.describe("*", Set.copyOf(Permission.ALL)));
        assertTrue(ClientAccess.ANONYMOUS.mayRead("Patient") && ClientAccess.ANONYMOUS.mayRead("Binary"));
        assertFalse(ClientAccess.ANONYMOUS.authenticated());
    }

    @ParameterizedTest(name = "{0} covers {1} {2}: {3}")
    @CsvSource({
            "system/*.read, Patient, READ, true",
            "system/*.read, Patient, SEARCH, true",
            "system/*.read, Patient, CREATE, false",
            "system/*.read, AuditEvent, READ, false",
            "system/AuditEvent.rs, AuditEvent, READ, true",
            "system/Patient.r, Patient, SEARCH, false",
            "system/Patient.cud, Patient, DELETE, true",
            "system/Patient.*, Observation, READ, false",
            "system/*.*, Binary, UPDATE, true",
    })
    void aScopeCoversItsTypesAndPermissionsAndAStarNeverTheAuditTrail(String scope, String type, Permission permission,
            boolean covered) {
        assertThat(SmartScope.parse(scope).orElseThrow().covers(type, permission)).isEqualTo(covered);
    }

    @Test
    void aScopeInV2SyntaxIsWrittenInCrudsOrder() {
        assertThat(SmartScope.of("Patient", Set.of(Permission.SEARCH, Permission.READ)).text()).isEqualTo("system/Patient.rs");
        assertThat(SmartScope.parseAll(null)).isEmpty();
        assertThat(SmartScope.parseAll("  system/*.read   launch system/Patient.c ")).extracting(SmartScope::text)
                .containsExactly("system/*.read", "system/Patient.c");
    }
}
