package dev.bulkfhir.providers;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.providers.audit.AuditSink;
import dev.bulkfhir.providers.auth.ClientAccess;

/**
 * Records every refused request in the audit trail: 401 (no or a bad token), 403 (scopes fall short)
 * and 404 (data that does not exist or is not the client's). Refusals answered from our hooks
 * ({@link HookRefusals}) and those thrown by provider methods all pass HAPI's exception pointcut.
 */
final class AuditRefusals {

    private final AuditSink audit;

    AuditRefusals(AuditSink audit) {
        this.audit = audit;
    }

    /** Before any hook that answers the exception itself (and so stops the others). */
    @Hook(value = Pointcut.SERVER_HANDLE_EXCEPTION, order = -2000)
    public boolean refused(RequestDetails request, BaseServerResponseException error) {
        int status = error.getStatusCode();
        if (status == 401 || status == 403 || status == 404) {
            // Only a client the bearer interceptor admitted: a 401 has none.
            ClientAccess access = RequestSideChannels.admittedClient(request);
            String client = access == null ? null : access.clientId();
            String path = request.getRequestPath();
            audit.record(AuditRecord.now(AuditAction.REFUSED, status, client,
                    path == null || path.isEmpty() ? null : path, error.getMessage(), 0, 0));
        }
        return true;
    }
}
