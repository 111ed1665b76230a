package dev.bulkfhir.server.load;

import dev.bulkfhir.storage.resource.SourceJson;
import org.hl7.fhir.instance.model.api.IBaseResource;

import java.util.ArrayList;
import java.util.List;

/** Parsed resources of one chunk, ready for one {@code writeAll} transaction. */
final class Batch {

    final Chunk chunk;
    final List<IBaseResource> resources;
    final List<String> types;
    /** Per resource, the JSON it was parsed from, ready to be stored; null where HAPI must encode it. */
    final List<SourceJson> sources;
    final long[] positions;

    Batch(Chunk chunk) {
        this.chunk = chunk;
        this.resources = new ArrayList<>(chunk.count);
        this.types = new ArrayList<>(chunk.count);
        this.sources = new ArrayList<>(chunk.count);
        this.positions = new long[chunk.count];
    }

    void add(IBaseResource resource, String type, SourceJson source, long position) {
        positions[resources.size()] = position;
        resources.add(resource);
        types.add(type);
        sources.add(source);
    }

    int size() {
        return resources.size();
    }

    Rejection rejection(int item, String reason) {
        return chunk.rejection(positions[item], reason);
    }
}
