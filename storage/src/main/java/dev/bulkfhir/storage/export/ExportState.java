package dev.bulkfhir.storage.export;

/** The life of an export job. Only ACCEPTED and IN_PROGRESS count against the concurrency limits. */
public enum ExportState {
    /** Waiting for a worker. */
    ACCEPTED,
    /** A node holds the lease and is writing files. */
    IN_PROGRESS,
    /** The manifest can be served until the job expires. */
    COMPLETED,
    FAILED,
    /** Cancelled by its client: treated as unknown from then on, and cleaned up. */
    CANCELLED,
    /** Its files were deleted after the retention time; requests for them are 410 Gone. */
    EXPIRED;

    public boolean isActive() {
        return this == ACCEPTED || this == IN_PROGRESS;
    }
}
