package dev.bulkfhir.providers.export;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/**
 * How the export engine runs.
 *
 * @param workers          threads that write export files; a job's resource types, and the key ranges of
 *                         its large types, are spread over them
 * @param maxJobsPerClient jobs one client may have waiting or running at once (more: 429)
 * @param maxJobs          jobs all clients together may have waiting or running at once (more: 429)
 * @param fileMaxResources a file is closed and the next one begun after this many resources
 * @param fileMaxBytes     ... or before it would grow past this many bytes
 * @param retention        how long a finished job's manifest and files stay available
 * @param defaultSince     with no {@code _since}, export only what changed in this window before the
 *                         kickoff (null: everything, as the IG asks)
 * @param lease            the longest a running job waits for another node when its node dies: the
 *                         node's claim (renewed every second) lapses, and another node resumes the job,
 *                         within this time
 * @param rangeResources   a type with more resources than this is cut into key ranges of about this
 *                         many, each exported by a worker task of its own into files of its own (when
 *                         the source can split types)
 * @param manifestPageSize files per manifest page when a kickoff asks for {@code allowPartialManifests}
 *                         (IG STU3); the pages are linked with {@code link} {@code next}
 */
public record ExportSettings(
        int workers,
        int maxJobsPerClient,
        int maxJobs,
        long fileMaxResources,
        long fileMaxBytes,
        Duration retention,
        Duration defaultSince,
        Duration lease,
        long rangeResources,
        int manifestPageSize) {

    public static final Duration DEFAULT_RETENTION = Duration.ofHours(24);
    public static final int DEFAULT_MANIFEST_PAGE_SIZE = 100;

    public ExportSettings {
        if (workers < 1) throw new IllegalArgumentException("export workers must be at least 1");
        if (maxJobsPerClient < 1 || maxJobs < 1) throw new IllegalArgumentException("export job limits must be at least 1");
        if (fileMaxResources < 1) throw new IllegalArgumentException("export file resource limit must be at least 1");
        if (fileMaxBytes < 1024) throw new IllegalArgumentException("export file size limit must be at least 1 KiB");
        if (retention == null || retention.isNegative() || retention.isZero()) {
            throw new IllegalArgumentException("export retention must be positive");
        }
        if (defaultSince != null && (defaultSince.isNegative() || defaultSince.isZero())) {
            throw new IllegalArgumentException("the default _since window must be positive");
        }
        if (lease == null || lease.compareTo(Duration.ofSeconds(3)) < 0) {
            throw new IllegalArgumentException("the export lease must be at least 3 seconds");
        }
        if (rangeResources < 1) throw new IllegalArgumentException("export range size must be at least 1");
        if (manifestPageSize < 1) throw new IllegalArgumentException("export manifest page size must be at least 1");
    }

    /**
     * One worker per core, at most 4; 24 h retention; ranges of 50,000 resources (small enough that two
     * workers share a large type evenly, large enough that splitting and recording them costs nothing).
     */
    public static ExportSettings defaults() {
        int workers = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        return new ExportSettings(workers, 4, 16, 100_000, 512L * 1024 * 1024, DEFAULT_RETENTION, null,
                Duration.ofSeconds(30), 50_000, DEFAULT_MANIFEST_PAGE_SIZE);
    }

    public ExportSettings withWorkers(int value) {
        return new ExportSettings(value, maxJobsPerClient, maxJobs, fileMaxResources, fileMaxBytes, retention,
                defaultSince, lease, rangeResources, manifestPageSize);
    }

    public ExportSettings withLimits(int perClient, int total) {
        return new ExportSettings(workers, perClient, total, fileMaxResources, fileMaxBytes, retention, defaultSince,
                lease, rangeResources, manifestPageSize);
    }

    public ExportSettings withFileLimits(long resources, long bytes) {
        return new ExportSettings(workers, maxJobsPerClient, maxJobs, resources, bytes, retention, defaultSince, lease,
                rangeResources, manifestPageSize);
    }

    public ExportSettings withRetention(Duration value) {
        return new ExportSettings(workers, maxJobsPerClient, maxJobs, fileMaxResources, fileMaxBytes, value,
                defaultSince, lease, rangeResources, manifestPageSize);
    }

    public ExportSettings withDefaultSince(Duration value) {
        return new ExportSettings(workers, maxJobsPerClient, maxJobs, fileMaxResources, fileMaxBytes, retention,
                value, lease, rangeResources, manifestPageSize);
    }

    public ExportSettings withLease(Duration value) {
        return new ExportSettings(workers, maxJobsPerClient, maxJobs, fileMaxResources, fileMaxBytes, retention,
                defaultSince, value, rangeResources, manifestPageSize);
    }

    public ExportSettings withRangeResources(long value) {
        return new ExportSettings(workers, maxJobsPerClient, maxJobs, fileMaxResources, fileMaxBytes, retention,
                defaultSince, lease, value, manifestPageSize);
    }

    public ExportSettings withManifestPageSize(int value) {
        return new ExportSettings(workers, maxJobsPerClient, maxJobs, fileMaxResources, fileMaxBytes, retention,
                defaultSince, lease, rangeResources, value);
    }

    /**
     * A duration as people write it on a command line: {@code 24h}, {@code 90m}, {@code 30s},
     * {@code 7d}, or ISO-8601 ({@code PT24H}). Blank or {@code none} is null (no duration).
     */
    public static Duration parseDuration(String text) {
        if (text == null || text.isBlank() || text.trim().equalsIgnoreCase("none")) {
            return null;
        }
        String value = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (value.startsWith("p")) {
                return Duration.parse(value.toUpperCase(Locale.ROOT));
            }
            char unit = value.charAt(value.length() - 1);
            long amount = Long.parseLong(value.substring(0, value.length() - 1));
            return switch (unit) {
                case 's' -> Duration.ofSeconds(amount);
                case 'm' -> Duration.ofMinutes(amount);
                case 'h' -> Duration.ofHours(amount);
                case 'd' -> Duration.ofDays(amount);
                default -> throw new IllegalArgumentException();
            };
        } catch (DateTimeParseException | IllegalArgumentException e) {
            throw new IllegalArgumentException("Not a duration: '" + text + "' (use e.g. 24h, 90m, 30s, 7d or PT24H)");
        }
    }
}
