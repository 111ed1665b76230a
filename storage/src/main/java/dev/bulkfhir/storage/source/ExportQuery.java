package dev.bulkfhir.storage.source;

import java.time.Instant;
import java.util.List;
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
 * @param typeFilters        the export's {@code _typeFilter} queries for this type (e.g.
 *                           {@code Observation?code=8867-4}), empty if none: a hint. A source may read only the
 *                           resources that match one of them (e.g. by pushing them into its database's search),
 *                           or ignore them; the export applies them to every resource it is handed either way.
 * @param partition          the partition (tenant) the kickoff was made in, by name, or null: all the source
 *                           holds. A source that does not partition its data ignores it.
 */
public record ExportQuery(String type, Instant since, Instant asOf, boolean patientCompartment, Set<String> patients,
        KeyRange range, List<String> typeFilters, String partition) {

    public ExportQuery {
        if (type == null || asOf == null || range == null) {
            throw new IllegalArgumentException("type, asOf and range are required");
        }
        patients = patients == null ? null : Set.copyOf(patients);
        typeFilters = typeFilters == null ? List.of() : List.copyOf(typeFilters);
    }

    /** Without {@code _typeFilter}. */
    public ExportQuery(String type, Instant since, Instant asOf, boolean patientCompartment, Set<String> patients,
            KeyRange range) {
        this(type, since, asOf, patientCompartment, patients, range, List.of(), null);
    }

    /** The whole type. */
    public ExportQuery(String type, Instant since, Instant asOf, boolean patientCompartment, Set<String> patients) {
        this(type, since, asOf, patientCompartment, patients, KeyRange.ALL);
    }

    /** The same query, on one slice of the type. */
    public ExportQuery in(KeyRange slice) {
        return new ExportQuery(type, since, asOf, patientCompartment, patients, slice, typeFilters, partition);
    }

    /** The same query, with these {@code _typeFilter} queries of its type as a hint to the source. */
    public ExportQuery withTypeFilters(List<String> filters) {
        return new ExportQuery(type, since, asOf, patientCompartment, patients, range, filters, partition);
    }

    /** The same query, in this partition (by name; null: all). */
    public ExportQuery inPartition(String name) {
        return new ExportQuery(type, since, asOf, patientCompartment, patients, range, typeFilters, name);
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
