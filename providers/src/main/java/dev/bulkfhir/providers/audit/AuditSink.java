package dev.bulkfhir.providers.audit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where audit records go. {@link #record} is called on request threads and must never block: the
 * sinks here hand the record to a {@link AuditWriter} (a bounded queue and one background thread that
 * writes in batches). Choose one for {@code BulkFhirPlugin.builder(...).audit(...)}:
 *
 * <ul>
 *   <li>{@link #logger()}: one log line per event (logger {@code dev.bulkfhir.audit}), the default;</li>
 *   <li>{@link AuditWriter#start}: batches of records to code of your own, e.g. a HAPI JPA host's
 *       AuditEvent DAO, rendering each with {@link AuditEvents#render};</li>
 *   <li>{@link #off()}: nothing is recorded.</li>
 * </ul>
 */
@FunctionalInterface
public interface AuditSink {

    /** Takes the record without blocking (dropping it if the sink is overwhelmed). */
    void record(AuditRecord record);

    static AuditSink off() {
        return record -> { };
    }

    /** Every record as one INFO line of logger {@code dev.bulkfhir.audit}, written by a background thread. */
    static AuditWriter logger() {
        Logger log = LoggerFactory.getLogger("dev.bulkfhir.audit");
        return AuditWriter.start("audit-log", AuditWriter.DEFAULT_CAPACITY, batch -> {
            for (AuditRecord r : batch) {
                log.info("audit {} status={} client={} entity={} count={} bytes={} detail={}", r.action().code(),
                        r.status(), r.client(), r.entity(), r.count(), r.bytes(),
                        r.detail() == null ? null : r.detail().replaceAll("\\p{Cntrl}", "?"));
            }
        });
    }
}
