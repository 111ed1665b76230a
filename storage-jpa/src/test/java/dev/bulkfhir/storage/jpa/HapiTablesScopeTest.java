package dev.bulkfhir.storage.jpa;

import ca.uhn.fhir.interceptor.model.RequestPartitionId;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SQL conditions the JPA source scopes HAPI's tables with: which partitions, which compartments,
 * and that each condition's placeholders and parameters agree (the real tables: examples' Jpa*Test).
 */
class HapiTablesScopeTest {

    @Test
    void partitionsBecomeConditionsOnThePartitionColumn() {
        assertThat(HapiTables.partitionCondition(RequestPartitionId.allPartitions())).isEmpty();
        assertThat(HapiTables.partitionCondition(RequestPartitionId.defaultPartition()))
                .isEqualTo("(r.PARTITION_ID is null)");
        assertThat(HapiTables.partitionCondition(RequestPartitionId.fromPartitionIds(1, 2)))
                .isEqualTo("(r.PARTITION_ID in (1,2))");
        assertThat(HapiTables.partitionCondition(RequestPartitionId.fromPartitionIds(Arrays.asList(null, 3))))
                .isEqualTo("(r.PARTITION_ID is null or r.PARTITION_ID in (3))");
    }

    @Test
    void anyPatientLooksForAPatientReferenceAtTheCompartmentsPaths() {
        List<Object> params = new ArrayList<>();
        String condition = HapiTables.anyPatient(List.of("Observation.subject", "Observation.performer"), params);
        assertThat(condition).contains("HFJ_RES_LINK").contains("TARGET_RESOURCE_TYPE = 'Patient'");
        assertThat(params).containsExactly("Observation.subject", "Observation.performer");
        assertThat(placeholders(condition)).isEqualTo(params.size());
    }

    @Test
    void somePatientsBindsThePatientsThenThePaths() {
        List<Object> params = new ArrayList<>();
        String condition = HapiTables.somePatients("Observation", List.of("Observation.subject"), List.of(11L, 12L),
                params);
        assertThat(condition).doesNotContain(" or ");
        assertThat(params).containsExactly(11L, 12L, "Observation.subject");
        assertThat(placeholders(condition)).isEqualTo(params.size());
    }

    @Test
    void aPatientIsInItsOwnCompartmentAndInThoseItReferencesAsLink() {
        List<Object> params = new ArrayList<>();
        String condition = HapiTables.somePatients("Patient", List.of("Patient.link.other"), List.of(7L), params);
        assertThat(condition).contains(" or r.RES_ID in (?)");
        assertThat(params).containsExactly(7L, "Patient.link.other", 7L);
        assertThat(placeholders(condition)).isEqualTo(params.size());

        List<Object> withoutPaths = new ArrayList<>();
        assertThat(HapiTables.somePatients("Patient", List.of(), List.of(7L, 8L), withoutPaths))
                .isEqualTo("(r.RES_ID in (?,?))");
        assertThat(withoutPaths).containsExactly(7L, 8L);
    }

    @Test
    void oneOfAndMarks() {
        List<Object> params = new ArrayList<>();
        assertThat(HapiTables.oneOf(List.of(1L, 2L, 3L), params)).isEqualTo("r.RES_ID in (?,?,?)");
        assertThat(params).containsExactly(1L, 2L, 3L);
        assertThat(HapiTables.marks(1)).isEqualTo("?");
    }

    private static long placeholders(String sql) {
        return sql.chars().filter(c -> c == '?').count();
    }
}
