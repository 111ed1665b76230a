package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.util.FhirTerser;
import dev.bulkfhir.storage.resource.PatientCompartment;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.ResourceSource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Provenance;
import org.hl7.fhir.r4.model.Reference;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code includeAssociatedData}: the Provenance that go with an export are those with a target that the
 * export holds (a resource of an exported type, in scope, changed in the export's window, passing its
 * type's {@code _typeFilter}), each target read from the source as of the export's instant.
 * {@code RelevantProvenanceResources} keeps all of them; {@code LatestProvenanceResources} only the
 * newest (by {@code recorded}) for each such target, found in a first pass that remembers, per target,
 * the newest Provenance id (memory: one entry per exported resource that has a Provenance).
 */
final class AssociatedProvenance {

    static final String LATEST = "LatestProvenanceResources";
    static final String RELEVANT = "RelevantProvenanceResources";

    private final ResourceSource source;
    private final ExportRequest request;
    private final Set<String> targetTypes;
    private final Set<String> patients;
    private final Instant asOf;
    private final Map<String, List<TypeFilter>> filters;
    private final IParser parser;
    private final FhirTerser terser;
    private final PatientCompartment compartment;

    /**
     * @param targetTypes the types the export holds (Provenance itself never counts as a target)
     * @param patients    the patients of a Patient or Group export, or null for all
     */
    AssociatedProvenance(FhirContext context, ResourceSource source, ExportRequest request, Set<String> targetTypes,
            Set<String> patients, Instant asOf, Map<String, List<TypeFilter>> filters) {
        this.source = source;
        this.request = request;
        this.targetTypes = targetTypes;
        this.patients = patients;
        this.asOf = asOf;
        this.filters = filters;
        this.parser = context.newJsonParser();
        this.terser = context.newTerser();
        this.compartment = new PatientCompartment(context);
    }

    /** Streams the Provenance of {@code query} (every one as of the export's instant) and hands on those that go. */
    void export(ExportQuery query, ResourceSink sink) throws IOException {
        if (RELEVANT.equals(request.associatedData())) {
            source.stream(query, sink(sink, (provenance, json) -> {
                if (exportedTargets(provenance).isEmpty()) return;
                sink.resource(json);
            }));
            return;
        }
        // Latest: per exported target, the newest Provenance; then those Provenance.
        Map<String, Newest> newest = new HashMap<>();
        source.stream(query, sink(sink, (provenance, json) -> {
            long recorded = provenance.hasRecorded() ? provenance.getRecorded().getTime() : Long.MIN_VALUE;
            String id = provenance.getIdElement().getIdPart();
            for (String target : exportedTargets(provenance)) {
                newest.merge(target, new Newest(recorded, id), (a, b) -> b.isNewerThan(a) ? b : a);
            }
        }));
        Set<String> keep = new HashSet<>();
        newest.values().forEach(n -> keep.add(n.id()));
        if (keep.isEmpty()) return;
        source.stream(query, sink(sink, (provenance, json) -> {
            if (keep.contains(provenance.getIdElement().getIdPart())) sink.resource(json);
        }));
    }

    private record Newest(long recorded, String id) {
        boolean isNewerThan(Newest other) {
            return recorded != other.recorded ? recorded > other.recorded : id.compareTo(other.id) > 0;
        }
    }

    private interface ProvenanceLine {
        void accept(Provenance provenance, byte[] json) throws IOException;
    }

    /** Parses each streamed Provenance for {@code line}; an unreadable one goes to the error file. */
    private ResourceSink sink(ResourceSink out, ProvenanceLine line) {
        return new ResourceSink() {
            @Override
            public void resource(byte[] json) throws IOException {
                Provenance provenance;
                try {
                    provenance = parser.parseResource(Provenance.class, new String(json, StandardCharsets.UTF_8));
                } catch (DataFormatException e) {
                    out.error("Provenance", "A stored Provenance could not be read for includeAssociatedData: "
                            + e.getMessage());
                    return;
                }
                line.accept(provenance, json);
            }

            @Override
            public void error(String reference, String message) throws IOException {
                out.error(reference, message);
            }
        };
    }

    /** The targets of {@code provenance} ("Type/id", versions ignored) that the export holds. */
    private List<String> exportedTargets(Provenance provenance) {
        return provenance.getTarget().stream().map(Reference::getReferenceElement)
                .filter(target -> target.hasIdPart() && target.getResourceType() != null
                        && !target.getResourceType().equals("Provenance")
                        && targetTypes.contains(target.getResourceType())
                        && exported(target.getResourceType(), target.getIdPart()))
                .map(target -> target.getResourceType() + "/" + target.getIdPart())
                .distinct().toList();
    }

    private boolean exported(String type, String id) {
        byte[] json = source.read(type, id, asOf).orElse(null);
        if (json == null) return false;
        IBaseResource resource;
        try {
            resource = parser.parseResource(new String(json, StandardCharsets.UTF_8));
        } catch (DataFormatException e) {
            return false;
        }
        Instant since = request.sinceInstant();
        if (since != null && (resource.getMeta().getLastUpdated() == null
                || !resource.getMeta().getLastUpdated().toInstant().isAfter(since))) {
            return false;
        }
        if (request.patientCompartment() && !new ExportQuery(type, since, asOf, true, patients)
                .inScope(compartment.patientIds(resource))) {
            return false;
        }
        List<TypeFilter> typeFilters = filters.getOrDefault(type, List.of());
        return typeFilters.isEmpty() || typeFilters.stream().anyMatch(filter -> filter.matches(resource, terser));
    }
}
