package dev.bulkfhir.providers.export;

import ca.uhn.fhir.rest.api.server.RequestDetails;

/**
 * The one seam between export and authorization: maps a request to the client behind it. Without
 * authorization every request is {@link ExportClient#ANONYMOUS}; with it, whoever installs export
 * (the plugin) supplies an implementation that reads what the auth interceptor (which runs first and
 * has verified the token) found, e.g. from {@link RequestDetails#getUserData()}. It may throw HAPI's {@code AuthenticationException} (401) or
 * {@code ForbiddenOperationException} (403).
 */
@FunctionalInterface
public interface ClientIdentity {

    ExportClient of(RequestDetails request);

    static ClientIdentity anonymous() {
        return request -> ExportClient.ANONYMOUS;
    }
}
