package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.RestfulServer;
import com.nimbusds.jose.JOSEException;
import dev.bulkfhir.providers.ServerBase;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How requests are authorized, in one of three modes:
 *
 * <ul>
 *   <li>{@link #tokens}: SMART Backend Services with this server's own tokens. Besides the bearer
 *       interceptor, the token endpoint ({@code [base]/auth/token}), the discovery document
 *       ({@code [base]/.well-known/smart-configuration}) and the CapabilityStatement's security;</li>
 *   <li>{@link #host}: the host authenticates in its own way and tells the interceptor the client
 *       and its scopes ({@link RequestAuthorizer});</li>
 *   <li>{@link #off}: everyone is {@link ClientAccess#ANONYMOUS}, allowed everything.</li>
 * </ul>
 */
public final class SmartAuth {

    public static final String TOKEN_PATH = "/auth/token";
    public static final String DISCOVERY_PATH = "/.well-known/smart-configuration";

    private final ClientRegistry clients;
    private final AccessTokenIssuer issuer;
    private final BearerAuthInterceptor interceptor;

    private SmartAuth(RequestAuthorizer authorizer, ClientRegistry clients, AccessTokenIssuer issuer) {
        this.clients = clients;
        this.issuer = issuer;
        this.interceptor = new BearerAuthInterceptor(authorizer);
    }

    public static SmartAuth tokens(ClientRegistry clients, AccessTokenIssuer issuer) {
        return new SmartAuth(RequestAuthorizer.bearerTokens(issuer.verifier()), clients, issuer);
    }

    /**
     * Our own tokens, with the clients registered in {@code clientsFile} (which may not exist yet)
     * and the signing key in {@code signingKeyFile} (made on first start). Fails if either is broken.
     */
    public static SmartAuth tokens(Path clientsFile, Path signingKeyFile, Duration tokenLifetime)
            throws IOException, JOSEException {
        return tokens(ClientRegistry.load(clientsFile), AccessTokenIssuer.fromKeyFile(signingKeyFile, tokenLifetime));
    }

    public static SmartAuth host(RequestAuthorizer authorizer) {
        return new SmartAuth(authorizer, null, null);
    }

    public static SmartAuth off() {
        return new SmartAuth(RequestAuthorizer.off(), null, null);
    }

    /** Whether this server issues its own tokens (and serves the token endpoint). */
    public boolean issuesTokens() {
        return issuer != null;
    }

    /** The registered clients; null unless {@link #issuesTokens()}. */
    public ClientRegistry clients() {
        return clients;
    }

    /**
     * The interceptor, e.g. to let export code decide about its own operations and files
     * ({@code protect(export)}) before {@link #install}.
     */
    public BearerAuthInterceptor interceptor() {
        return interceptor;
    }

    /** Registers the interceptor and, with our own tokens, the token endpoint and discovery document. */
    public void install(RestfulServer server, ServerBase base) {
        server.registerInterceptor(interceptor);
        if (issuesTokens()) {
            FhirContext context = server.getFhirContext();
            server.registerInterceptor(new SmartEndpoints(new TokenEndpoint(clients, issuer, context), base));
            server.registerInterceptor(new SmartCapabilityStatement(base));
        }
    }
}
