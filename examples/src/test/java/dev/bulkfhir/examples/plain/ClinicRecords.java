package dev.bulkfhir.examples.plain;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Resource;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The host's own storage, standing in for the database behind an existing HAPI plain server: every
 * version of every Patient and Observation, in memory. Nothing here knows about Bulk FHIR.
 */
final class ClinicRecords {

    /** One stored version: its JSON (with meta) and the patients whose record it belongs to. */
    record Version(String type, String id, long version, Instant lastUpdated, String json, Set<String> patients) {
    }

    private final IParser parser;
    private final Map<String, Map<String, List<Version>>> byType = new ConcurrentHashMap<>();

    ClinicRecords(FhirContext context) {
        this.parser = context.newJsonParser();
    }

    /** Stores a new version (a new resource when it has no id) and returns the resource as stored. */
    synchronized Resource save(Resource resource) {
        String type = resource.fhirType();
        String id = resource.hasIdElement() && resource.getIdElement().hasIdPart()
                ? resource.getIdElement().getIdPart() : UUID.randomUUID().toString();
        List<Version> versions = byType.computeIfAbsent(type, t -> new ConcurrentHashMap<>())
                .computeIfAbsent(id, i -> new ArrayList<>());
        long version = versions.size() + 1;
        Instant now = Instant.now();
        if (!versions.isEmpty() && !now.isAfter(versions.get(versions.size() - 1).lastUpdated())) {
            now = versions.get(versions.size() - 1).lastUpdated().plusMillis(1); // versions stay in time order
        }
        resource.setId(type + "/" + id + "/_history/" + version);
        resource.getMeta().setVersionId(Long.toString(version)).setLastUpdated(Date.from(now));
        String json = parser.encodeResourceToString(resource);
        versions.add(new Version(type, id, version, now, json, patientsOf(resource, id)));
        return resource;
    }

    /** The current version, or null. */
    synchronized Version current(String type, String id) {
        List<Version> versions = byType.getOrDefault(type, Map.of()).get(id);
        return versions == null ? null : versions.get(versions.size() - 1);
    }

    /** Every resource of a type in its version current at {@code asOf} (a copy: safe to iterate). */
    synchronized List<Version> asOf(String type, Instant asOf) {
        List<Version> found = new ArrayList<>();
        for (List<Version> versions : byType.getOrDefault(type, Map.of()).values()) {
            for (int i = versions.size() - 1; i >= 0; i--) {
                if (!versions.get(i).lastUpdated().isAfter(asOf)) {
                    found.add(versions.get(i));
                    break;
                }
            }
        }
        return found;
    }

    boolean holds(String type) {
        return byType.containsKey(type);
    }

    IBaseResource parse(Version version) {
        return parser.parseResource(version.json());
    }

    private static Set<String> patientsOf(Resource resource, String id) {
        if (resource instanceof Observation observation && observation.getSubject().getReferenceElement()
                .getResourceType() != null && observation.getSubject().getReferenceElement().getResourceType().equals("Patient")) {
            return Set.of(observation.getSubject().getReferenceElement().getIdPart());
        }
        return resource.fhirType().equals("Patient") ? Set.of(id) : Set.of();
    }
}
