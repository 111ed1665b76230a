package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.ForbiddenOperationException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.RequestSideChannels;

import java.util.Collection;
import java.util.List;
import java.util.Set;

/**
 * Who is asking and what they may do: the client id and the SMART scopes granted to it. The
 * {@link BearerAuthInterceptor} puts one on every request it admits
 * ({@link RequestSideChannels#attachClient}); code that serves the request reads it back with
 * {@link #from(RequestDetails)}:
 *
 * <pre>
 * ClientAccess access = ClientAccess.from(request);          // ANONYMOUS when auth is off or absent
 * String owner = access.clientId();                          // e.g. the owner of an export job
 * List&lt;String&gt; types = access.readableTypes(candidates);      // e.g. $export without _type
 * access.requireRead(types, "exporting");                    // e.g. $export with _type: 403 if not covered
 * </pre>
 */
public final class ClientAccess {

    public static final String ANONYMOUS_ID = "anonymous";
    /** Everyone, when auth is off: may do everything, owns everything "anonymous" owns. */
    public static final ClientAccess ANONYMOUS =
            new ClientAccess(ANONYMOUS_ID, List.of(SmartScope.parse("system/*.*").orElseThrow(),
                    SmartScope.parse("system/AuditEvent.*").orElseThrow()), false);

    private final String clientId;
    private final List<SmartScope> scopes;
    private final boolean authenticated;

    private ClientAccess(String clientId, Collection<SmartScope> scopes, boolean authenticated) {
        this.clientId = clientId;
        this.scopes = List.copyOf(scopes);
        this.authenticated = authenticated;
    }

    /** An authenticated client with the scopes granted to it. */
    public static ClientAccess of(String clientId, Collection<SmartScope> scopes) {
        if (clientId == null || clientId.isBlank()) {
            throw new IllegalArgumentException("A client needs an id");
        }
        return new ClientAccess(clientId, scopes, true);
    }

    /** The client the interceptor admitted for this request; {@link #ANONYMOUS} if none did. */
    public static ClientAccess from(RequestDetails request) {
        ClientAccess access = RequestSideChannels.admittedClient(request);
        return access != null ? access : ANONYMOUS;
    }

    public String clientId() {
        return clientId;
    }

    public List<SmartScope> scopes() {
        return scopes;
    }

    /**
     * False for {@link #ANONYMOUS}: no token was needed (e.g. an export manifest's
     * {@code requiresAccessToken}).
     */
    public boolean authenticated() {
        return authenticated;
    }

    public boolean permits(String type, Permission permission) {
        for (SmartScope scope : scopes) {
            if (scope.covers(type, permission)) {
                return true;
            }
        }
        return false;
    }

    public boolean permitsAll(String type, Set<Permission> permissions) {
        return permissions.stream().allMatch(permission -> permits(type, permission));
    }

    /** Read in the export sense: v1 {@code read}, v2 {@code rs}. */
    public boolean mayRead(String type) {
        return permitsAll(type, Permission.V1_READ);
    }

    /** The types among {@code candidates} this client may read, in their order. */
    public List<String> readableTypes(Collection<String> candidates) {
        return candidates.stream().filter(this::mayRead).toList();
    }

    /**
     * Refuses (403, an OperationOutcome naming the missing scope) unless the client may read every
     * one of {@code types}.
     *
     * @param action what is being refused, for the message, e.g. "export"
     */
    public void requireRead(Collection<String> types, String action) throws ForbiddenOperationException {
        for (String type : types) {
            require(type, Permission.V1_READ, action + " " + type);
        }
    }

    /**
     * Refuses (403) a client that may read none of {@code types}: an export without {@code _type} would
     * have nothing to hold.
     */
    public void requireReadAny(Collection<String> types) throws ForbiddenOperationException {
        if (readableTypes(types).isEmpty()) {
            throw OperationOutcomes.forbidden("The access token of client '" + clientId + "' allows reading no"
                    + " resource type, so there is nothing it may export: that needs scope system/*.read (SMART v2:"
                    + " system/*.rs) or a read scope for each type. Granted: "
                    + (scopes.isEmpty() ? "no scopes" : SmartScope.join(scopes)) + ".");
        }
    }

    /** Refuses (403 naming the missing scope) unless the client has all {@code needed} on {@code type}. */
    public void require(String type, Set<Permission> needed, String action) throws ForbiddenOperationException {
        if (!permitsAll(type, needed)) {
            throw OperationOutcomes.forbidden("The access token of client '" + clientId + "' does not allow " + action
                    + ": that needs scope " + SmartScope.describe(type, needed) + ". Granted: "
                    + (scopes.isEmpty() ? "no scopes" : SmartScope.join(scopes)) + ".");
        }
    }

    @Override
    public String toString() {
        return clientId + " [" + SmartScope.join(scopes) + "]";
    }
}
