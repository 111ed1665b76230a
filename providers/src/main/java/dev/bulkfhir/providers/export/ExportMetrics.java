package dev.bulkfhir.providers.export;

import dev.bulkfhir.storage.export.ExportFile;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.export.ExportState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What export tells a Micrometer registry: resources and bytes written (counted as each file is
 * recorded complete) and jobs by state. The job counts come from one grouped query, taken at most
 * once a second however many scrapers ask.
 */
final class ExportMetrics {

    private static final long COUNT_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final ExportJobRepository jobs;
    private final Counter resources;
    private final Counter bytes;
    private Map<ExportState, Long> counts = Map.of();
    private long countedAt;
    private boolean counted;

    ExportMetrics(MeterRegistry registry, ExportJobRepository jobs) {
        this.jobs = jobs;
        this.resources = Counter.builder("bulkfhir.export.resources")
                .description("Resources written to export files").register(registry);
        this.bytes = Counter.builder("bulkfhir.export.bytes").baseUnit("bytes")
                .description("Bytes written to export files, error files included").register(registry);
        for (ExportState state : ExportState.values()) {
            Gauge.builder("bulkfhir.export.jobs", this, metrics -> metrics.jobs(state))
                    .tag("state", state.name().toLowerCase(Locale.ROOT))
                    .description("Export jobs in the job table, by state").register(registry);
        }
    }

    void written(List<ExportFile> files) {
        for (ExportFile file : files) {
            if (!file.errorFile()) resources.increment(file.resourceCount());
            bytes.increment(file.byteCount());
        }
    }

    private synchronized double jobs(ExportState state) {
        long now = System.nanoTime();
        if (!counted || now - countedAt > COUNT_EVERY_NANOS) {
            counted = true;
            countedAt = now;
            try {
                counts = jobs.countByState();
            } catch (RuntimeException e) {
                counts = null; // the database is away: no number rather than a stale one
            }
        }
        return counts == null ? Double.NaN : counts.getOrDefault(state, 0L);
    }
}
