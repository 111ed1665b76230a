package dev.bulkfhir.storage.source;

import java.io.IOException;
import java.util.Set;

/** Receives the resources a {@link ResourceSource} streams, one at a time. */
public interface ResourceSink {

    /**
     * One resource: its JSON, UTF-8, on one line. The array belongs to the sink once handed over. The
     * sink may throw an unchecked exception to stop the stream (e.g. the export was cancelled).
     */
    void resource(byte[] json) throws IOException;

    /**
     * Whether the sink wants to know whose patient compartments hold each resource (output organized by
     * patient). A source that knows them without reading the JSON then calls {@link #resource(byte[], Set)};
     * one that does not may keep calling {@link #resource(byte[])}.
     */
    default boolean wantsPatients() {
        return false;
    }

    /** One resource, with the ids of the patients whose compartments hold it (empty: none). */
    default void resource(byte[] json, Set<String> patients) throws IOException {
        resource(json);
    }

    /** A resource that could not be exported, e.g. {@code Binary/123}, and why; it lands in the error file. */
    void error(String reference, String message) throws IOException;
}
