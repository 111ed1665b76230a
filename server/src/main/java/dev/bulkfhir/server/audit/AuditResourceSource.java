package dev.bulkfhir.server.audit;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import dev.bulkfhir.storage.source.DeletionSink;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.KeyRange;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.ResourceSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What export reads: the audit table for AuditEvent, {@code resources} for every other type. Export
 * itself stays unaware of the audit trail; the scopes decide who may ask for it (only a scope naming
 * AuditEvent covers it, and an export without {@code _type} leaves it out).
 */
final class AuditResourceSource implements ResourceSource {

    private static final String TYPE = "AuditEvent";
    private static final int PAGE = 1000;

    private final ResourceSource resources;
    private final AuditTable table;
    private final AuditEventProvider renderer;
    private final FhirContext context;

    AuditResourceSource(ResourceSource resources, AuditTable table, AuditEventProvider renderer, FhirContext context) {
        this.resources = resources;
        this.table = table;
        this.renderer = renderer;
        this.context = context;
    }

    @Override
    public void stream(ExportQuery query, ResourceSink sink) throws IOException {
        if (!query.type().equals(TYPE)) {
            resources.stream(query, sink);
            return;
        }
        if (query.patientCompartment()) {
            return; // the audit trail is about clients and files, in no patient's compartment
        }
        IParser json = context.newJsonParser();
        Long from = query.since() == null ? null : query.since().toEpochMilli() + 1;
        long after = 0;
        while (true) {
            List<AuditTable.Row> rows = table.search(new AuditTable.Filter(from, query.asOf().toEpochMilli(), null,
                    null, after), PAGE);
            for (AuditTable.Row row : rows) {
                sink.resource(json.encodeResourceToString(renderer.render(row)).getBytes(StandardCharsets.UTF_8));
            }
            if (rows.size() < PAGE) return;
            after = rows.get(rows.size() - 1).id();
        }
    }

    /** Audit events are only ever purged by retention, never deleted: no deletions to list for them. */
    @Override
    public void streamDeleted(ExportQuery query, DeletionSink sink) throws IOException {
        if (!query.type().equals(TYPE)) {
            resources.streamDeleted(query, sink);
        }
    }

    @Override
    public Optional<byte[]> read(String type, String id, Instant asOf) {
        return type.equals(TYPE) ? Optional.empty() : resources.read(type, id, asOf);
    }

    @Override
    public KeyRange firstRange(String type, KeyRange within, long rangeSize) {
        return type.equals(TYPE) ? within : resources.firstRange(type, within, rangeSize);
    }

    @Override
    public Optional<Set<String>> groupMembers(String groupId, Instant asOf) {
        return resources.groupMembers(groupId, asOf);
    }

    @Override
    public Set<String> existingPatients(Set<String> patientIds, Instant asOf) {
        return resources.existingPatients(patientIds, asOf);
    }

    @Override
    public boolean hasData(String type) {
        return type.equals(TYPE) || resources.hasData(type);
    }

    @Override
    public Instant transactionTime() {
        return resources.transactionTime();
    }
}
