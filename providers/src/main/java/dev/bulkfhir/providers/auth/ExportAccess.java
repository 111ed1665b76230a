package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.rest.api.server.RequestDetails;
import dev.bulkfhir.providers.export.ClientIdentity;
import dev.bulkfhir.providers.export.ExportClient;

import java.util.List;
import java.util.Set;

/** What export needs to know of the client behind a request, from the {@link ClientAccess} on it. */
public final class ExportAccess {

    private ExportAccess() {
    }

    /**
     * The token's client id owns the jobs; its read scopes bound the types; the manifest says a
     * token is required whenever one was ({@link ExportClient#ANONYMOUS} when auth is off).
     */
    public static ClientIdentity identity() {
        return ExportAccess::client;
    }

    static ExportClient client(RequestDetails request) {
        ClientAccess access = ClientAccess.from(request);
        if (!access.authenticated()) {
            return ExportClient.ANONYMOUS;
        }
        Set<String> all = request.getFhirContext().getResourceTypes();
        List<String> readable = access.readableTypes(all);
        return new ExportClient(access.clientId(), readable.size() == all.size() ? null : Set.copyOf(readable), true);
    }
}
