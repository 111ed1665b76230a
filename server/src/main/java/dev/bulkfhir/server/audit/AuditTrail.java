package dev.bulkfhir.server.audit;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.providers.audit.AuditSink;
import dev.bulkfhir.providers.audit.AuditWriter;
import dev.bulkfhir.storage.source.ResourceSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The standalone server's audit trail: records go through a {@link AuditWriter} into the compact
 * {@link AuditTable}, in batches, off the request threads; rows older than the retention are purged
 * periodically; AuditEvent is searchable ({@link #provider()}) and exportable ({@link #source}).
 */
public final class AuditTrail implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AuditTrail.class);
    private static final Duration MAX_PURGE_INTERVAL = Duration.ofHours(1);

    private final AuditTable table;
    private final AuditWriter writer;
    private final AuditEventProvider provider;
    private final FhirContext context;
    private final ScheduledExecutorService purger;

    public AuditTrail(DataSource dataSource, AuditSettings settings, FhirContext context, String observer) {
        this.table = new AuditTable(dataSource);
        this.context = context;
        this.provider = new AuditEventProvider(table, observer);
        this.writer = settings.enabled() ? AuditWriter.start("audit-writer", AuditWriter.DEFAULT_CAPACITY, table::write)
                : null;
        this.purger = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "audit-purge");
            thread.setDaemon(true);
            return thread;
        });
        long retention = settings.retention().toMillis();
        // Often enough that no row outlives its retention by much more than a tenth of it (a second at least).
        long every = Math.max(1000, Math.min(MAX_PURGE_INTERVAL.toMillis(), retention / 10));
        purger.scheduleWithFixedDelay(() -> purge(retention), 0, every, TimeUnit.MILLISECONDS);
    }

    private void purge(long retention) {
        try {
            int purged = table.purge(System.currentTimeMillis() - retention);
            if (purged > 0) {
                log.info("Audit trail: {} events older than the retention purged", purged);
            }
        } catch (RuntimeException e) {
            log.warn("Audit trail: purge failed, retried later", e);
        }
    }

    /** Where the plugin records events; records nothing with {@code --audit off}. */
    public AuditSink sink() {
        return writer == null ? AuditSink.off() : writer;
    }

    public AuditEventProvider provider() {
        return provider;
    }

    /** {@code resources} with AuditEvent read from the audit table, for export. */
    public ResourceSource source(ResourceSource resources) {
        return new AuditResourceSource(resources, table, provider, context);
    }

    /** Writes what is queued and stops; call before the database closes. */
    @Override
    public void close() {
        purger.shutdownNow();
        if (writer != null) {
            writer.close();
        }
    }
}
