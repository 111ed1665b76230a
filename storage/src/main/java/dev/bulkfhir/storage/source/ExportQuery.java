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
 * @param range              only the resources in this slice of the type (see {@link ResourceSource#split})
 */
public record ExportQuery(String type, Instant since, Instant asOf, boolean patientCompartment, Set<String> patients,
        KeyRange range) {

    public ExportQuery {
        if (type == null || asOf == null || range == null) {
            throw new IllegalArgumentException("type, asOf and range are required");
        }
        patients = patients == null ? null : Set.copyOf(patients);
    }

    /** The whole type. */
    public ExportQuery(String type, Instant since, Instant asOf, boolean patientCompartment, Set<String> patients) {
        this(type, since, asOf, patientCompartment, patients, KeyRange.ALL);
    }

    /** The same query, on one slice of the type. */
    public ExportQuery in(KeyRange slice) {
        return new ExportQuery(type, since, asOf, patientCompartment, patients, slice);
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
