package dev.bulkfhir.storage.export;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * One Bulk Data export: who asked, what, as of when, how far it got, and which node works on it.
 * Rows are written by {@link ExportJobRepository}; instances handed out are detached snapshots.
 */
@Entity
@Table(name = "bf_export_job")
public class ExportJob {

    /** Long text columns; the length only matters to Hibernate, which would otherwise expect a CLOB. */
    private static final int TEXT = 1_000_000;

    @Id
    @Column(name = "id", length = 64)
    private String id;

    @Column(name = "owner_id", nullable = false)
    private String ownerId;

    @JdbcTypeCode(SqlTypes.VARCHAR) // unbounded text (TEXT on PostgreSQL), not a LOB
    @Column(name = "request_url", nullable = false, length = TEXT)
    private String requestUrl;

    @JdbcTypeCode(SqlTypes.VARCHAR) // unbounded text (TEXT on PostgreSQL), not a LOB
    @Column(name = "parameters", nullable = false, length = TEXT)
    private String parameters;

    // A plain string column on every database (Hibernate would otherwise pick a native ENUM on some).
    @Enumerated(EnumType.STRING)
    @JdbcTypeCode(SqlTypes.VARCHAR)
    @Column(name = "state", nullable = false, length = 16)
    private ExportState state;

    @Column(name = "transaction_time", nullable = false)
    private Instant transactionTime;

    @Column(name = "created_at", nullable = false)
    private Instant createdAt;

    @Column(name = "started_at")
    private Instant startedAt;

    @Column(name = "finished_at")
    private Instant finishedAt;

    @Column(name = "expires_at")
    private Instant expiresAt;

    @Column(name = "types_total", nullable = false)
    private int typesTotal;

    @Column(name = "types_done", nullable = false)
    private int typesDone;

    @JdbcTypeCode(SqlTypes.VARCHAR) // unbounded text (TEXT on PostgreSQL), not a LOB
    @Column(name = "done_types", nullable = false, length = TEXT)
    private String doneTypes = "";

    @Column(name = "current_type", length = 64)
    private String currentType;

    @Column(name = "resources_done", nullable = false)
    private long resourcesDone;

    @Column(name = "error_text", length = 4000)
    private String errorText;

    @Column(name = "lease_owner", length = 64)
    private String leaseOwner;

    @Column(name = "lease_expires_at")
    private Instant leaseExpiresAt;

    /** Prepared and handed to part rows that any node may claim; the job itself then has no lease. */
    @Column(name = "spread", nullable = false)
    private boolean spread;

    protected ExportJob() {
        // for Hibernate
    }

    /** A new job, ACCEPTED now. */
    public ExportJob(String id, String ownerId, String requestUrl, String parameters, Instant transactionTime) {
        this.id = id;
        this.ownerId = ownerId;
        this.requestUrl = requestUrl;
        this.parameters = parameters;
        this.transactionTime = transactionTime;
        this.createdAt = transactionTime;
        this.state = ExportState.ACCEPTED;
    }

    public String id() { return id; }
    public String ownerId() { return ownerId; }
    public String requestUrl() { return requestUrl; }
    public String parameters() { return parameters; }
    public ExportState state() { return state; }
    public Instant transactionTime() { return transactionTime; }
    public Instant createdAt() { return createdAt; }
    public Instant startedAt() { return startedAt; }
    public Instant finishedAt() { return finishedAt; }
    public Instant expiresAt() { return expiresAt; }
    public int typesTotal() { return typesTotal; }
    public int typesDone() { return typesDone; }
    public String currentType() { return currentType; }
    public long resourcesDone() { return resourcesDone; }
    public String errorText() { return errorText; }
    public String leaseOwner() { return leaseOwner; }
    public Instant leaseExpiresAt() { return leaseExpiresAt; }
    public boolean spread() { return spread; }

    /**
     * The types, or key ranges of types (as the export engine names them), whose files are complete:
     * a resumed job does not export them again.
     */
    public Set<String> doneTypes() {
        Set<String> types = new LinkedHashSet<>();
        for (String type : doneTypes.split(",")) {
            if (!type.isEmpty()) types.add(type);
        }
        return types;
    }

    static String joinTypes(Set<String> types) {
        return String.join(",", types);
    }

    void state(ExportState newState) { this.state = newState; }
    void finishedAt(Instant when) { this.finishedAt = when; }
    void leaseExpiresAt(Instant when) { this.leaseExpiresAt = when; }
}
