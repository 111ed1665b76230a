package dev.bulkfhir.providers.audit;

/**
 * One audited event, small and cheap to make on a hot path: numbers and a few short strings,
 * rendered into an AuditEvent only when someone reads it ({@link AuditEvents#render}).
 *
 * @param time    when, in epoch milliseconds
 * @param action  what happened
 * @param status  the HTTP status answered, or 0 for an event of the server's own (an export completing)
 * @param client  the client id, or null when no client is known (an expired export, a request without token)
 * @param entity  what it was about, as a relative reference ({@code Binary/123}, {@code Group/g}), an export
 *                job id, or a request path; may be null
 * @param detail  a short description: export level and types, {@code native} or {@code wrapped}, why a
 *                request was refused; may be null
 * @param count   resources (an export's total), 0 if none
 * @param bytes   bytes served, 0 if none
 */
public record AuditRecord(long time, AuditAction action, int status, String client, String entity, String detail,
        long count, long bytes) {

    /** The longest detail kept; the rest is cut off. */
    public static final int MAX_DETAIL = 1000;

    public AuditRecord {
        if (detail != null && detail.length() > MAX_DETAIL) {
            detail = detail.substring(0, MAX_DETAIL);
        }
    }

    /** A record of {@code action} now. */
    public static AuditRecord now(AuditAction action, int status, String client, String entity, String detail,
            long count, long bytes) {
        return new AuditRecord(System.currentTimeMillis(), action, status, client, entity, detail, count, bytes);
    }

    /** Whether the event failed: a 4xx or 5xx answer, or a refused token. */
    public boolean failed() {
        return status >= 400 || action == AuditAction.TOKEN_REFUSED || action == AuditAction.REFUSED;
    }
}
