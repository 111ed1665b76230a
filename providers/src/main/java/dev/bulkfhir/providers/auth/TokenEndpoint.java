package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.context.FhirContext;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.util.JSONObjectUtils;
import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.providers.audit.AuditSink;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The SMART Backend Services token endpoint: a form POST with {@code grant_type=client_credentials},
 * a signed client assertion and the wanted {@code scope}; answers an access token for the scopes
 * asked for that the client is registered for. Errors are RFC 6749 JSON, status 400.
 */
final class TokenEndpoint {

    static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    private static final Logger log = LoggerFactory.getLogger(TokenEndpoint.class);

    private final ClientAssertionVerifier assertions;
    private final AccessTokenIssuer issuer;
    private final Set<String> resourceTypes;
    private final AuditSink audit;
    private final Counter issued;
    private final Counter refused;

    TokenEndpoint(ClientRegistry registry, AccessTokenIssuer issuer, UsedAssertions usedAssertions,
            FhirContext context, AuditSink audit, MeterRegistry meters) {
        this.audit = audit;
        this.assertions = new ClientAssertionVerifier(registry, usedAssertions);
        this.issuer = issuer;
        this.resourceTypes = context.getResourceTypes();
        this.issued = tokens(meters, "issued");
        this.refused = tokens(meters, "refused");
    }

    private static Counter tokens(MeterRegistry meters, String outcome) {
        return Counter.builder("bulkfhir.tokens").tag("outcome", outcome)
                .description("Token requests at the token endpoint, by outcome").register(meters);
    }

    /** @param tokenUrl this endpoint's configured public URL, which a client assertion's {@code aud} must name */
    void serve(String tokenUrl, HttpServletRequest request, HttpServletResponse response) throws IOException {
        if (!request.getMethod().equals("POST")) {
            response.setHeader("Allow", "POST");
            send(response, 405, error("invalid_request", "The token endpoint takes a form POST"
                    + " (application/x-www-form-urlencoded), not " + request.getMethod() + "."));
            return;
        }
        try {
            Map<String, Object> answer = token(tokenUrl, request);
            issued.increment();
            send(response, 200, answer);
        } catch (TokenError e) {
            refused.increment();
            // The description may quote the unverified assertion: no control characters into the log.
            log.info("Token request refused: {}: {}", e.error(), e.getMessage().replaceAll("\\p{Cntrl}", "?"));
            audit.record(AuditRecord.now(AuditAction.TOKEN_REFUSED, 400, null, null,
                    e.error() + ": " + e.getMessage(), 0, 0));
            send(response, 400, error(e.error(), e.getMessage()));
        }
    }

    private Map<String, Object> token(String tokenUrl, HttpServletRequest request) throws TokenError {
        String contentType = request.getContentType();
        if (contentType == null || !contentType.toLowerCase(java.util.Locale.ROOT).startsWith("application/x-www-form-urlencoded")) {
            throw TokenError.invalidRequest("The token request must be a form: Content-Type"
                    + " application/x-www-form-urlencoded, not " + contentType + ".");
        }
        Map<String, String[]> parameters;
        try {
            parameters = request.getParameterMap();
        } catch (RuntimeException e) { // e.g. a form beyond Jetty's size limit
            throw TokenError.invalidRequest("The form cannot be read: " + e.getMessage());
        }
        for (Map.Entry<String, String[]> parameter : parameters.entrySet()) {
            if (parameter.getValue().length > 1) {
                throw TokenError.invalidRequest("Parameter " + parameter.getKey() + " appears more than once.");
            }
        }
        String grantType = single(parameters, "grant_type");
        if (grantType == null) {
            throw TokenError.invalidRequest("grant_type is missing: use client_credentials.");
        }
        if (!grantType.equals("client_credentials")) {
            throw TokenError.unsupportedGrantType("grant_type " + grantType
                    + " is not supported: this server issues tokens for client_credentials only.");
        }
        String assertionType = single(parameters, "client_assertion_type");
        if (!ASSERTION_TYPE.equals(assertionType)) {
            throw TokenError.invalidRequest("client_assertion_type must be " + ASSERTION_TYPE
                    + (assertionType == null ? "; it is missing." : ", not " + assertionType + "."));
        }
        String assertion = single(parameters, "client_assertion");
        if (assertion == null) {
            throw TokenError.invalidRequest("client_assertion is missing: a JWT signed with the client's key.");
        }
        String scope = single(parameters, "scope");
        if (scope == null) {
            throw TokenError.invalidRequest("scope is missing: ask for SMART system scopes, e.g. system/*.read.");
        }

        RegisteredClient client = assertions.verify(assertion, tokenUrl);

        List<SmartScope> asked = SmartScope.parseAll(scope).stream()
                .filter(wanted -> wanted.resourceType().equals(SmartScope.ANY_TYPE)
                        || resourceTypes.contains(wanted.resourceType()))
                .toList();
        List<SmartScope> granted = SmartScope.grant(asked, client.scopes());
        if (granted.isEmpty()) {
            throw TokenError.invalidScope("None of the scopes asked for (" + scope + ") is allowed to client '"
                    + client.clientId() + "', which is registered for " + SmartScope.join(client.scopes())
                    + ". Ask for SMART system scopes within those.");
        }
        String token;
        try {
            token = issuer.issue(client.clientId(), granted);
        } catch (JOSEException e) {
            throw new IllegalStateException("Cannot sign with the server's key", e);
        }
        // DEBUG: the audit record below keeps every token issued; a log line of its own cost 2 % of a token.
        log.debug("Access token issued to client '{}' for {}", client.clientId(), SmartScope.join(granted));
        audit.record(AuditRecord.now(AuditAction.TOKEN_ISSUED, 200, client.clientId(), null,
                SmartScope.join(granted), 0, 0));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("access_token", token);
        answer.put("token_type", "bearer");
        answer.put("expires_in", issuer.lifetime().toSeconds());
        answer.put("scope", SmartScope.join(granted));
        return answer;
    }

    private static String single(Map<String, String[]> parameters, String name) {
        String[] values = parameters.get(name);
        return values == null || values[0].isBlank() ? null : values[0].trim();
    }

    private static Map<String, Object> error(String error, String description) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("error_description", description);
        return body;
    }

    static void send(HttpServletResponse response, int status, Map<String, Object> body) throws IOException {
        response.setStatus(status);
        response.setContentType("application/json");
        response.setCharacterEncoding("UTF-8");
        if (response.getHeader("Cache-Control") == null) {
            response.setHeader("Cache-Control", "no-store"); // tokens and errors are never cached
            response.setHeader("Pragma", "no-cache");
        }
        response.getWriter().write(JSONObjectUtils.toJSONString(body));
    }
}
