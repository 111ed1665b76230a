package dev.bulkfhir.server.audit;

import java.time.Duration;

/**
 * The standalone server's audit trail ({@code --audit}, {@code --audit-retention}).
 *
 * @param enabled   whether events are recorded (AuditEvent stays searchable either way)
 * @param retention how long rows are kept; older ones are purged periodically
 */
public record AuditSettings(boolean enabled, Duration retention) {

    public static final Duration DEFAULT_RETENTION = Duration.ofDays(90);

    public AuditSettings {
        if (retention == null) {
            retention = DEFAULT_RETENTION;
        }
        if (retention.isNegative() || retention.isZero()) {
            throw new IllegalArgumentException("The audit retention must be positive, not " + retention);
        }
    }

    public static AuditSettings defaults() {
        return new AuditSettings(true, DEFAULT_RETENTION);
    }
}
