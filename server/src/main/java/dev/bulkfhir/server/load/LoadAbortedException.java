package dev.bulkfhir.server.load;

import java.io.IOException;

/**
 * The load stopped before the end because the database could not be used any more (connection
 * lost, pool exhausted, disk full...). Every transaction already committed stays; nothing is
 * half-stored. {@link #summary()} says how far it got.
 */
public class LoadAbortedException extends IOException {

    private final transient LoadSummary summary;

    public LoadAbortedException(String message, Throwable cause, LoadSummary summary) {
        super(message, cause);
        this.summary = summary;
    }

    public LoadSummary summary() {
        return summary;
    }
}
