package dev.bulkfhir.providers.export;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.List;

/**
 * A validated kickoff, as stored in the job row (JSON) so that any node can run or resume the job.
 *
 * @param level          system, Patient or Group
 * @param groupId        for a Group export
 * @param types          the types to export; empty: every type the level allows that has data, unless
 *                       {@code typesNamed}
 * @param typesNamed     {@code _type} was given: exactly {@code types} are exported, none if it is empty
 * @param since          an ISO instant, or null
 * @param elements       {@code _elements} as given (validated), empty for whole resources
 * @param typeFilters    {@code _typeFilter} queries (validated), e.g. {@code Observation?category=laboratory}
 * @param patients       patient ids from {@code patient}, or null for all the level covers
 * @param warnings       what the kickoff accepted but ignored (written to the error file)
 * @param until          {@code _until}, an ISO instant, or null: the export is as of then (if before the
 *                       transaction time)
 * @param associatedData {@code includeAssociatedData} as it applies: {@code LatestProvenanceResources},
 *                       {@code RelevantProvenanceResources} (the less restrictive, if both), or null
 * @param organizeOutputBy {@code organizeOutputBy} (IG STU3): the type whose instances head the resource
 *                       blocks of the output files ({@code Patient}), or null for files by type
 * @param allowPartialManifests {@code allowPartialManifests} (IG STU3): the manifest comes in pages, and a
 *                       202 may carry a page of the files already complete
 * @param tenant         the tenant (partition) the kickoff was made in, as the server's tenant identification
 *                       strategy found it, or null: the export reads that partition only, where the source
 *                       partitions its data
 */
public record ExportRequest(
        Level level,
        String groupId,
        List<String> types,
        boolean typesNamed,
        String since,
        List<String> elements,
        List<String> typeFilters,
        List<String> patients,
        List<String> warnings,
        String until,
        String associatedData,
        String organizeOutputBy,
        boolean allowPartialManifests,
        String tenant) {

    public enum Level { SYSTEM, PATIENT, GROUP }

    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    public ExportRequest {
        types = types == null ? List.of() : List.copyOf(types);
        elements = elements == null ? List.of() : List.copyOf(elements);
        typeFilters = typeFilters == null ? List.of() : List.copyOf(typeFilters);
        patients = patients == null ? null : List.copyOf(patients);
        warnings = warnings == null ? List.of() : List.copyOf(warnings);
    }

    /** For the audit trail: level, group and types, e.g. {@code group g1 Patient,Observation}. */
    public String describe() {
        return level.name().toLowerCase(java.util.Locale.ROOT) + (groupId == null ? "" : " " + groupId)
                + (types.isEmpty() ? " all types" : " " + String.join(",", types))
                + (since == null ? "" : " _since=" + since);
    }

    /** Every type the level allows (that has data) rather than a list. */
    public boolean allTypes() {
        return types.isEmpty() && !typesNamed;
    }

    public Instant sinceInstant() {
        return since == null ? null : Instant.parse(since);
    }

    /**
     * The instant each resource is exported as of: {@code _until} (its changes up to and including it),
     * but never later than the transaction time, after which nothing may be exported.
     */
    public Instant asOf(Instant transactionTime) {
        if (until == null) return transactionTime;
        Instant limit = Instant.parse(until);
        return limit.isBefore(transactionTime) ? limit : transactionTime;
    }

    /** Only the patients' compartments: Patient and Group exports. */
    public boolean patientCompartment() {
        return level != Level.SYSTEM;
    }

    String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ExportRequest fromJson(String json) {
        try {
            return JSON.readValue(json, ExportRequest.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UncheckedIOException("Unreadable export job parameters", e);
        }
    }
}
