package dev.bulkfhir.examples.plain;

import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.ResourceSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * A custom {@link ResourceSource}: the whole of what it takes for export to read a host's own
 * storage. Stream each resource's JSON as of the export's transaction time, filtered by
 * {@code since} and, for Patient and Group exports, by the patients' compartments.
 */
final class ClinicResourceSource implements ResourceSource {

    private final ClinicRecords records;

    ClinicResourceSource(ClinicRecords records) {
        this.records = records;
    }

    @Override
    public void stream(ExportQuery query, ResourceSink sink) throws IOException {
        for (ClinicRecords.Version version : records.asOf(query.type(), query.asOf())) {
            if ((query.since() == null || version.lastUpdated().isAfter(query.since()))
                    && query.inScope(version.patients())) {
                sink.resource(version.json().getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    @Override
    public Optional<Set<String>> groupMembers(String groupId, Instant asOf) {
        return Optional.empty(); // this host keeps no Groups
    }

    @Override
    public Set<String> existingPatients(Set<String> patientIds, Instant asOf) {
        Set<String> existing = new HashSet<>();
        for (ClinicRecords.Version patient : records.asOf("Patient", asOf)) {
            if (patientIds.contains(patient.id())) existing.add(patient.id());
        }
        return existing;
    }

    @Override
    public boolean hasData(String type) {
        return records.holds(type);
    }
}
