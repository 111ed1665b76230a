package dev.bulkfhir.storage.source;

import java.time.Instant;
import java.util.Set;

/**
 * The resources of one type that an export wants.
 *
 * @param type               a resource type name, e.g. {@code Observation}
 * @param since              only resources whose lastUpdated is after this instant (null: all)
 * @param asOf               the export's transaction time: each resource in its version current then
 * @param patientCompartment only resources in the Patient compartment of {@code patients}
 * @param patients           with {@code patientCompartment}: these patients' compartments, or null for
 *                           the compartment of any patient; ignored otherwise
 */
public record ExportQuery(String type, Instant since, Instant asOf, boolean patientCompartment, Set<String> patients) {

    public ExportQuery {
        if (type == null || asOf == null) {
            throw new IllegalArgumentException("type and asOf are required");
        }
        patients = patients == null ? null : Set.copyOf(patients);
    }

    /** Every resource of the type (a system-level export). */
    public static ExportQuery all(String type, Instant since, Instant asOf) {
        return new ExportQuery(type, since, asOf, false, null);
    }

    /** Whether a resource whose compartment holds {@code patientIds} belongs to this query's patients. */
    public boolean inScope(Set<String> patientIds) {
        if (!patientCompartment) return true;
        if (patients == null) return !patientIds.isEmpty();
        for (String id : patientIds) {
            if (patients.contains(id)) return true;
        }
        return false;
    }
}
