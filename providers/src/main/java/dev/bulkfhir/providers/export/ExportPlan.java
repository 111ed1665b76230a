package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.DataFormatException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.NdjsonFiles;
import dev.bulkfhir.storage.source.ExportQuery;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a job's request means for the work on it, worked out once per node from the job's row: the
 * patients it is limited to (a Group's members as of the job's transaction time), its {@code _typeFilter}s
 * by type and, with includeAssociatedData, the Provenance picker. The node that prepares the job and
 * every node that writes a part of it build the same plan from the same row.
 */
final class ExportPlan {

    final FhirContext context;
    final ExportRequest request;
    /** The patients the export is limited to, or null for all. */
    final Set<String> patients;
    final Map<String, List<TypeFilter>> filters;
    /** With includeAssociatedData: picks the Provenance to export; else null. */
    final AssociatedProvenance associated;

    private ExportPlan(FhirContext context, ExportRequest request, Set<String> patients,
            Map<String, List<TypeFilter>> filters, AssociatedProvenance associated) {
        this.context = context;
        this.request = request;
        this.patients = patients;
        this.filters = filters;
        this.associated = associated;
    }

    /** @param types the job's types (with includeAssociatedData, Provenance among them) */
    static ExportPlan of(ExportContext context, ExportJob job, ExportRequest request, Collection<String> types)
            throws TypeFilter.Unsupported {
        Set<String> patients = null;
        if (request.level() == ExportRequest.Level.GROUP) {
            Set<String> members = new HashSet<>(context.source().groupMembers(request.groupId(),
                    job.transactionTime(), request.tenant()).orElse(Set.of()));
            if (request.patients() != null) members.retainAll(request.patients());
            patients = members;
        } else if (request.patients() != null) {
            patients = new HashSet<>(request.patients());
        }
        Map<String, List<TypeFilter>> byType = new HashMap<>();
        for (String text : request.typeFilters()) {
            TypeFilter filter = TypeFilter.parse(context.fhir(), text);
            byType.computeIfAbsent(filter.type(), t -> new ArrayList<>()).add(filter);
        }
        AssociatedProvenance associated = null;
        if (request.associatedData() != null) {
            // The Provenance type is then exported as the Provenance of the other types' resources.
            Set<String> targets = new HashSet<>(types);
            targets.remove("Provenance");
            associated = new AssociatedProvenance(context.fhir(), context.source(), request, targets, patients,
                    request.asOf(job.transactionTime()), byType);
        }
        return new ExportPlan(context.fhir(), request, patients, byType, associated);
    }

    /**
     * A query of the type narrowed for the source: to the kickoff's partition, and by the type's
     * {@code _typeFilter}s so that a source can read less (they are applied here either way).
     */
    ExportQuery scoped(String type, ExportQuery query) {
        List<String> filterTexts = filters.getOrDefault(type, List.of()).stream().map(TypeFilter::toString).toList();
        return query.withTypeFilters(filterTexts).inPartition(request.tenant());
    }

    /** The type's _typeFilter and _elements as one transform, or null when it has neither. */
    LineTransform transform(String type) {
        return LineTransform.of(context, type, filters.getOrDefault(type, List.of()), request.elements());
    }

    /**
     * A stored resource through {@code transform} (_typeFilter, _elements), if any: null when a filter
     * drops it, or when it cannot be read (then said in the error file).
     */
    byte[] transformed(String type, LineTransform transform, NdjsonFiles errors, byte[] json) throws IOException {
        if (transform == null) return json;
        try {
            return transform.apply(json);
        } catch (DataFormatException | IllegalArgumentException e) {
            errors.write(OperationOutcomes.ndjsonLine("error", "processing", "A stored " + type
                    + " could not be read for _typeFilter or _elements: " + e.getMessage()));
            return null;
        }
    }
}
