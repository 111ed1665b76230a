package dev.bulkfhir.storage.resource;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * One version of a resource as stored: its canonical JSON (UTF-8, meta included) and the
 * columns the server answers from without parsing. {@code json} is null for a deletion.
 */
public record StoredResource(
        String type, String id, long version, Instant lastUpdated, boolean deleted, byte[] json) {

    public String jsonText() {
        return json == null ? null : new String(json, StandardCharsets.UTF_8);
    }
}
