package dev.bulkfhir.storage.binary;

import java.time.Instant;

/**
 * One version of a Binary, as needed to serve it natively or wrapped.
 *
 * @param json            the stored Binary resource without {@code data} (UTF-8 JSON), or null when
 *                        the source keeps no resource (e.g. an export file): build it from the fields
 * @param securityContext the reference in {@code Binary.securityContext}, or null
 * @param filename        a download name the source knows (upload header, attachment title), or null
 * @param content         the bytes; null when {@code deleted}
 */
public record BinaryDocument(
        String id,
        long version,
        Instant lastUpdated,
        boolean deleted,
        String contentType,
        String securityContext,
        String filename,
        byte[] json,
        BinaryContent content) {
}
