package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.api.server.ResponseDetails;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.HookRefusals;
import dev.bulkfhir.providers.RequestSideChannels;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.Bundle;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiPredicate;

/**
 * Admits a request only with a valid token whose scopes cover it. Installed into any
 * {@code RestfulServer} with {@code registerInterceptor}; who the client is comes from a
 * {@link RequestAuthorizer} (this server's bearer tokens, off, or a host's own scheme).
 *
 * <p>It decides when HAPI has chosen the operation and before anything is read or written, so it
 * also guards operations that write their own response (Binary downloads, export polling).
 * {@code /metadata} needs no token. A request without a token is answered 401 with
 * {@code WWW-Authenticate: Bearer}; a bad token 401 with {@code error="invalid_token"}; a token
 * whose scopes fall short 403, naming the scope it lacks. What each request needs (SMART v2):
 *
 * <ul>
 *   <li>read, vread, instance history, {@code Binary/$binary-access-read} and
 *       {@code Binary/$export-download}: {@code r} on the type — except export files, which the
 *       export's own owner check guards (see {@link #allowExportFiles});</li>
 *   <li>search and type history: {@code s}; system-wide search and history: {@code s} on {@code *};</li>
 *   <li>create {@code c}, update and patch {@code u}, delete {@code d}; conditional ones {@code s} as well.
 *       All decided before anything is written; a client that may not read what it wrote gets an
 *       OperationOutcome instead of the copy ({@link #checkResponse});</li>
 *   <li>transaction and batch, and any operation not named here: everything on every type
 *       ({@code system/*.*}), as they may touch anything — except operations registered with
 *       {@link #allowOperationForAnyClient}, which check the client themselves (as Bulk Data export
 *       checks {@code _type} against the client's scopes, wherever the kickoff names it);</li>
 *   <li>paging: the client only; every resource on the page is checked on the way out, as are
 *       all resources in any response.</li>
 * </ul>
 */
public final class BearerAuthInterceptor {

    /** Before every other hook on the same pointcuts (Binary's run at 1000, most at 0). */
    public static final int ORDER = -1000;

    private static final String NEEDS_TOKEN = "This server needs an access token: send Authorization: Bearer"
            + " <token>, with a token from the server's token endpoint (SMART Backend Services; see"
            + " .well-known/smart-configuration under the FHIR base).";
    /** Operations that change a resource, whose answer may carry a copy of it. */
    private static final Set<RestOperationTypeEnum> WRITES = Set.of(RestOperationTypeEnum.CREATE,
            RestOperationTypeEnum.UPDATE, RestOperationTypeEnum.PATCH);
    /** Resources that are answers about the request, not data, when they are the response itself. */
    private static final Set<String> NOT_DATA = Set.of("OperationOutcome", "CapabilityStatement", "Bundle", "Parameters");

    private final RequestAuthorizer authorizer;
    private final Set<String> clientCheckedOperations = new HashSet<>();
    private BiPredicate<ClientAccess, String> exportFiles = (client, binaryId) -> false;

    public BearerAuthInterceptor(RequestAuthorizer authorizer) {
        this.authorizer = authorizer;
    }

    /**
     * Lets any admitted client call an operation (e.g. {@code $export-poll-status}) whose handler
     * checks the client itself, e.g. answering 404 for another client's job.
     */
    public BearerAuthInterceptor allowOperationForAnyClient(String operation) {
        clientCheckedOperations.add(operation.startsWith("$") ? operation : "$" + operation);
        return this;
    }

    /**
     * Lets clients read export files (the manifest's {@code Binary/[id]} URLs, and their
     * {@code $binary-access-read} and {@code $export-download}) without Binary read scope: the
     * export's kickoff checked the types, and its owner check answers 404 to any other client.
     * {@code isExportFile.test(client, binaryId)} must hold only for ids in the export files' own id
     * space, whose owner check answers 404 for any id that is not a file of the client's own (so
     * that an unknown id and another client's file look alike), never for other Binaries.
     */
    public BearerAuthInterceptor allowExportFiles(BiPredicate<ClientAccess, String> isExportFile) {
        this.exportFiles = isExportFile;
        return this;
    }

    @Hook(value = Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED, order = ORDER)
    public boolean authorize(RequestDetails request, HttpServletRequest servletRequest,
            HttpServletResponse servletResponse) throws IOException {
        RestOperationTypeEnum operation = request.getRestOperationType();
        if (operation == RestOperationTypeEnum.METADATA) {
            return true;
        }
        try {
            ClientAccess access;
            try {
                access = authorizer.authorize(request);
            } catch (InvalidTokenException e) {
                throw unauthorized(e.getMessage(), true);
            }
            if (access == null) {
                throw unauthorized(NEEDS_TOKEN, false);
            }
            RequestSideChannels.attachClient(request, access);
            check(access, request, operation);
            return true;
        } catch (BaseServerResponseException e) {
            HookRefusals.answer(e, request, servletRequest, servletResponse);
            return false;
        }
    }

    /**
     * Whatever a response carries (included resources, pages), the client must be allowed to see. A
     * write is already done by now, and was allowed: its answer keeps its status and Location, and a
     * copy of the written resource the client may not read becomes an OperationOutcome saying so.
     */
    @Hook(value = Pointcut.SERVER_OUTGOING_RESPONSE, order = ORDER)
    public boolean checkResponse(RequestDetails request, ResponseDetails response, HttpServletRequest servletRequest,
            HttpServletResponse servletResponse) throws IOException {
        IBaseResource resource = response.getResponseResource();
        if (resource == null || request.getRestOperationType() == RestOperationTypeEnum.METADATA) {
            return true;
        }
        ClientAccess access = ClientAccess.from(request);
        if (WRITES.contains(request.getRestOperationType()) && !NOT_DATA.contains(resource.fhirType())
                && !access.permits(resource.fhirType(), Permission.READ)) {
            response.setResponseResource(writtenWithoutCopy(request, access, resource));
            return true;
        }
        List<IBaseResource> shown = new ArrayList<>();
        if (!NOT_DATA.contains(resource.fhirType())) {
            shown.add(resource);
        }
        RestOperationTypeEnum operation = request.getRestOperationType();
        // The server's own envelope (search, history, page): every entry is data. A stored Bundle
        // that is read is one resource, whatever it holds.
        if (resource instanceof Bundle bundle && operation != RestOperationTypeEnum.READ
                && operation != RestOperationTypeEnum.VREAD) {
            bundle.getEntry().forEach(entry -> shown.add(entry.getResource()));
        }
        boolean exportFile = RequestSideChannels.isExportFile(request);
        for (IBaseResource item : shown) {
            String type = item == null ? null : item.fhirType();
            if (type != null && !type.equals("OperationOutcome") && !(exportFile && type.equals("Binary"))
                    && !access.permits(type, Permission.READ) && !access.permits(type, Permission.SEARCH)) {
                BaseServerResponseException refusal = OperationOutcomes.forbidden("The access token of client '"
                        + access.clientId() + "' does not allow reading " + type + ", which this response holds:"
                        + " that needs scope " + SmartScope.describe(type, Set.of(Permission.READ)) + ".");
                HookRefusals.answer(refusal, request, servletRequest, servletResponse);
                return false;
            }
        }
        return true;
    }

    /**
     * 401. RFC 6750: without credentials the challenge is a bare {@code Bearer}; with a token that
     * failed, it adds {@code error="invalid_token"} and the reason.
     */
    private static AuthenticationException unauthorized(String why, boolean tokenGiven) {
        AuthenticationException error = OperationOutcomes.withOutcome(new AuthenticationException(why), "login");
        String challenge = "Bearer realm=\"bulk-fhir\"";
        if (tokenGiven) {
            // A header's quoted-string may not hold quotes, backslashes or control characters.
            challenge += ", error=\"invalid_token\", error_description=\""
                    + why.replaceAll("[\"\\\\\\p{Cntrl}]", "'") + "\"";
        }
        error.addResponseHeader("WWW-Authenticate", challenge);
        return error;
    }

    private static IBaseResource writtenWithoutCopy(RequestDetails request, ClientAccess access,
            IBaseResource written) {
        IIdType id = written.getIdElement();
        String what = written.fhirType() + (id.hasIdPart() ? "/" + id.getIdPart() : "")
                + (id.hasVersionIdPart() ? " (version " + id.getVersionIdPart() + ")" : "");
        String verb = request.getRestOperationType() == RestOperationTypeEnum.CREATE ? "Created " : "Updated ";
        return OperationOutcomes.of("information", "informational", verb + what + ". The response holds no copy:"
                + " the access token of client '" + access.clientId() + "' does not allow reading " + written.fhirType()
                + " (that needs scope " + SmartScope.describe(written.fhirType(), Set.of(Permission.READ)) + ").");
    }

    private void check(ClientAccess access, RequestDetails request, RestOperationTypeEnum operation) {
        String type = request.getResourceName();
        switch (operation) {
            case READ, VREAD -> {
                if (!isExportFile(access, request)) {
                    access.require(type, Set.of(Permission.READ), "reading " + type);
                }
            }
            case HISTORY_INSTANCE -> access.require(type, Set.of(Permission.READ), "reading the history of " + type);
            case SEARCH_TYPE -> access.require(type, Set.of(Permission.SEARCH), "searching " + type);
            case HISTORY_TYPE -> access.require(type, Set.of(Permission.SEARCH), "reading the history of " + type);
            case SEARCH_SYSTEM, HISTORY_SYSTEM ->
                    access.require(SmartScope.ANY_TYPE, Set.of(Permission.SEARCH), "searching across all types");
            case CREATE -> access.require(type, Set.of(Permission.CREATE), "creating " + type);
            case UPDATE, PATCH -> access.require(type, Set.of(Permission.UPDATE), "updating " + type);
            case DELETE -> access.require(type, Set.of(Permission.DELETE), "deleting " + type);
            case GET_PAGE -> {
                // Which types a page holds is known only once it is read: checkResponse sees them.
            }
            case EXTENDED_OPERATION_SERVER, EXTENDED_OPERATION_TYPE, EXTENDED_OPERATION_INSTANCE ->
                    checkOperation(access, request, type);
            default -> access.require(SmartScope.ANY_TYPE, Permission.ALL,
                    "a " + operation.getCode() + " request, which may touch any type");
        }
        if (WRITES.contains(operation) || operation == RestOperationTypeEnum.DELETE) {
            String condition = request.getConditionalUrl(operation);
            if (condition != null) {
                // Which resource it writes (or whether one exists) answers a search.
                access.require(type, Set.of(Permission.SEARCH), "a conditional " + operation.getCode()
                        + " (" + condition + "), which searches " + type);
            }
        }
    }

    private void checkOperation(ClientAccess access, RequestDetails request, String type) {
        String name = request.getOperation();
        if (clientCheckedOperations.contains(name)) {
            return;
        }
        switch (name) {
            case "$binary-access-read", "$export-download" -> {
                if (!isExportFile(access, request)) {
                    access.require(type, Set.of(Permission.READ), "reading " + type);
                }
            }
            default -> access.require(SmartScope.ANY_TYPE, Permission.ALL,
                    "the operation " + name + ", which may touch any type");
        }
    }

    private boolean isExportFile(ClientAccess access, RequestDetails request) {
        boolean exportFile = "Binary".equals(request.getResourceName()) && request.getId() != null
                && request.getId().getIdPart() != null && exportFiles.test(access, request.getId().getIdPart());
        if (exportFile) {
            RequestSideChannels.markExportFile(request); // for checkResponse, on a wrapped read
        }
        return exportFile;
    }
}
