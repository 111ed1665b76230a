package dev.bulkfhir.server.ops;

import dev.bulkfhir.storage.Database;

import javax.sql.DataSource;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Whether this node can serve: the database answers (within {@link #DATABASE_TIMEOUT}, not the pool's
 * 30 s), our migrations are all applied, and the export workers' claim loop ran within
 * {@link #WORKERS_STALE}. Each check says why it failed.
 */
final class Readiness implements AutoCloseable {

    record Check(boolean up, String detail) {}

    static final Duration DATABASE_TIMEOUT = Duration.ofSeconds(2);
    /**
     * The claim loop runs every half second, on the thread that also renews leases and sweeps expired
     * jobs (a large sweep may hold it for a while); this long without a pass means it is stuck or dead.
     */
    static final Duration WORKERS_STALE = Duration.ofSeconds(60);

    private final DataSource dataSource;
    private final Supplier<Instant> workersLastSeen;
    private final ExecutorService probe = Executors.newSingleThreadExecutor(runnable -> {
        Thread thread = new Thread(runnable, "readiness-probe");
        thread.setDaemon(true);
        return thread;
    });
    private volatile boolean migrated;

    Readiness(DataSource dataSource, Supplier<Instant> workersLastSeen) {
        this.dataSource = dataSource;
        this.workersLastSeen = workersLastSeen;
    }

    /** The checks in order; ready when all are up. */
    synchronized Map<String, Check> checks() {
        Map<String, Check> checks = new LinkedHashMap<>();
        Check database = database();
        checks.put("database", database);
        checks.put("migrations", database.up() ? migrations() : new Check(false, "the database does not answer"));
        checks.put("exportWorkers", workers());
        return checks;
    }

    private Check database() {
        Future<Boolean> answer = probe.submit(() -> {
            try (Connection connection = dataSource.getConnection()) {
                return connection.isValid((int) DATABASE_TIMEOUT.toSeconds());
            }
        });
        try {
            return answer.get(DATABASE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    ? new Check(true, "answers") : new Check(false, "the connection is not valid");
        } catch (TimeoutException e) {
            answer.cancel(true);
            return new Check(false, "no answer within " + DATABASE_TIMEOUT.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Check(false, "interrupted");
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            return new Check(false, cause.getClass().getSimpleName() + ": " + cause.getMessage());
        }
    }

    /** Once applied, migrations stay applied: Flyway is asked only until then. */
    private Check migrations() {
        if (!migrated) {
            try {
                migrated = Database.migrated(dataSource);
            } catch (RuntimeException e) {
                return new Check(false, e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
        return migrated ? new Check(true, "applied") : new Check(false, "migrations pending or failed");
    }

    private Check workers() {
        Instant seen = workersLastSeen.get();
        if (seen == null) return new Check(false, "the claim loop has not run yet");
        Duration ago = Duration.between(seen, Instant.now());
        return ago.compareTo(WORKERS_STALE) <= 0 ? new Check(true, "claim loop ran " + ago.toMillis() + " ms ago")
                : new Check(false, "claim loop last ran " + ago.toSeconds() + " s ago");
    }

    @Override
    public void close() {
        probe.shutdownNow();
    }
}
