package dev.bulkfhir.storage.export;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

import java.time.Instant;

/**
 * One finished NDJSON file of a job: its Binary id, the resource type it holds (OperationOutcome for
 * error files, Bundle for files of deletions), how many resources and bytes, and where it lies in the
 * {@link ExportFileStore}.
 */
@Entity
@Table(name = "bf_export_file")
public class ExportFile {

    @Id
    @Column(name = "id", length = 64)
    private String id;

    @Column(name = "job_id", nullable = false, length = 64)
    private String jobId;

    @Column(name = "res_type", nullable = false, length = 64)
    private String type;

    @Column(name = "seq", nullable = false)
    private int seq;

    @Column(name = "resource_count", nullable = false)
    private long resourceCount;

    @Column(name = "byte_count", nullable = false)
    private long byteCount;

    @Column(name = "location", nullable = false)
    private String location;

    @Column(name = "error_file", nullable = false)
    private boolean errorFile;

    @Column(name = "created_at", nullable = false)
    private Instant createdAt;

    @Column(name = "deleted_file", nullable = false)
    private boolean deletedFile;

    /** The file the last resource block of this one goes on in (organized output), or null. */
    @Column(name = "continues_in", length = 64)
    private String continuesIn;

    /** The order in which the job recorded its files (1, 2, ...): manifest pages follow it. */
    @Column(name = "ordinal", nullable = false)
    private long ordinal;

    protected ExportFile() {
        // for Hibernate
    }

    public ExportFile(String id, String jobId, String type, int seq, long resourceCount, long byteCount,
            String location, boolean errorFile, Instant createdAt) {
        this.id = id;
        this.jobId = jobId;
        this.type = type;
        this.seq = seq;
        this.resourceCount = resourceCount;
        this.byteCount = byteCount;
        this.location = location;
        this.errorFile = errorFile;
        this.createdAt = createdAt;
    }

    /**
     * @param deletedFile whether the file is one of the manifest's {@code deleted} entries (Bundles of deletions)
     * @param continuesIn the file a cut resource block goes on in (organized output), or null
     */
    public ExportFile(String id, String jobId, String type, int seq, long resourceCount, long byteCount,
            String location, boolean errorFile, Instant createdAt, boolean deletedFile, String continuesIn) {
        this(id, jobId, type, seq, resourceCount, byteCount, location, errorFile, createdAt);
        this.deletedFile = deletedFile;
        this.continuesIn = continuesIn;
    }

    public String id() { return id; }
    public String jobId() { return jobId; }
    public String type() { return type; }
    public int seq() { return seq; }
    public long resourceCount() { return resourceCount; }
    public long byteCount() { return byteCount; }
    public String location() { return location; }
    public boolean errorFile() { return errorFile; }
    public Instant createdAt() { return createdAt; }
    public boolean deletedFile() { return deletedFile; }
    public String continuesIn() { return continuesIn; }
    public long ordinal() { return ordinal; }

    void ordinal(long value) {
        this.ordinal = value;
    }
}
