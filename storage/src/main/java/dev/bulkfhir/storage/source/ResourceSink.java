package dev.bulkfhir.storage.source;

import java.io.IOException;

/** Receives the resources a {@link ResourceSource} streams, one at a time. */
public interface ResourceSink {

    /**
     * One resource: its JSON, UTF-8, on one line. The array belongs to the sink once handed over. The
     * sink may throw an unchecked exception to stop the stream (e.g. the export was cancelled).
     */
    void resource(byte[] json) throws IOException;

    /** A resource that could not be exported, e.g. {@code Binary/123}, and why; it lands in the error file. */
    void error(String reference, String message) throws IOException;
}
