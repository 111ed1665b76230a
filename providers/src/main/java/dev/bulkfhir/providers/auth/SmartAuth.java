package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.RestfulServer;
import com.nimbusds.jose.JOSEException;
import dev.bulkfhir.providers.ServerBase;
import dev.bulkfhir.providers.audit.AuditSink;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.auth.SigningKeyRepository;
import dev.bulkfhir.storage.auth.UsedAssertionRepository;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import javax.sql.DataSource;
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
    private final UsedAssertions usedAssertions;
    private final BearerAuthInterceptor interceptor;

    private SmartAuth(RequestAuthorizer authorizer, ClientRegistry clients, AccessTokenIssuer issuer,
            UsedAssertions usedAssertions) {
        this.clients = clients;
        this.issuer = issuer;
        this.usedAssertions = usedAssertions;
        this.interceptor = new BearerAuthInterceptor(authorizer);
    }

    /** Our own tokens; replayed client assertions are seen on this node only. */
    public static SmartAuth tokens(ClientRegistry clients, AccessTokenIssuer issuer) {
        return tokens(clients, issuer, UsedAssertions.inMemory());
    }

    public static SmartAuth tokens(ClientRegistry clients, AccessTokenIssuer issuer, UsedAssertions usedAssertions) {
        RequestAuthorizer bearer = RequestAuthorizer.bearerTokens(issuer.verifier());
        // A token holds no more than its client's registration holds now (the client may be gone).
        RequestAuthorizer registered = request -> {
            ClientAccess issued = bearer.authorize(request);
            return issued == null ? null : clients.recheck(issued);
        };
        return new SmartAuth(registered, clients, issuer, usedAssertions);
    }

    /**
     * Our own tokens, with the clients registered in {@code clientsFile} (which may not exist yet)
     * and the signing key in {@code signingKeyFile} (made on first start). Fails if either is broken.
     */
    public static SmartAuth tokens(Path clientsFile, Path signingKeyFile, Duration tokenLifetime)
            throws IOException, JOSEException {
        return tokens(ClientRegistry.load(clientsFile), AccessTokenIssuer.fromKeyFile(signingKeyFile, tokenLifetime));
    }

    /**
     * Our own tokens for every node on one database: the clients registered in {@code clientsFile}; the
     * signing keys in the database (made there, a new one every {@code keyRotation}; a token from any
     * node verifies on all); used client assertions there too (a replay is refused on every node). Our
     * tables are created or migrated in {@code database} first.
     */
    public static SmartAuth shared(Path clientsFile, DataSource database, Duration tokenLifetime,
            Duration keyRotation) throws IOException {
        Database.migrate(database);
        AccessTokenIssuer issuer = new AccessTokenIssuer(
                SigningKeyRing.shared(new SigningKeyRepository(database), keyRotation), tokenLifetime);
        return tokens(ClientRegistry.load(clientsFile), issuer,
                UsedAssertions.inDatabase(new UsedAssertionRepository(database)));
    }

    public static SmartAuth host(RequestAuthorizer authorizer) {
        return new SmartAuth(authorizer, null, null, null);
    }

    public static SmartAuth off() {
        return new SmartAuth(RequestAuthorizer.off(), null, null, null);
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
     * The interceptor, e.g. to let through operations that check the client themselves
     * ({@code allowOperationForAnyClient}) before {@link #install}.
     */
    public BearerAuthInterceptor interceptor() {
        return interceptor;
    }

    /**
     * Refuses a base derived from each request when this server issues tokens: a client assertion's
     * {@code aud} must name the token endpoint, and a URL built from the request's {@code Host} header
     * would let any client name a host of its own choosing.
     */
    public void requireUsableBase(ServerBase base) {
        if (issuesTokens() && !base.isFixed()) {
            throw new IllegalStateException("With its own tokens (SmartAuth.tokens) the plugin needs the server's"
                    + " public base URL from configuration, not from the request's Host header: client assertions"
                    + " must name the token endpoint under it. Give the builder baseUrl(\"https://fhir.example.org/fhir\")"
                    + " (the URL clients use), or the server a HardcodedServerAddressStrategy before install.");
        }
    }

    /**
     * Registers the interceptor and, with our own tokens, the token endpoint and discovery document
     * (which need a {@link ServerBase#isFixed() fixed} base).
     */
    public void install(RestfulServer server, ServerBase base) {
        install(server, base, AuditSink.off(), new CompositeMeterRegistry());
    }

    /**
     * As {@link #install(RestfulServer, ServerBase)}, recording tokens issued and refused in {@code audit}
     * and counting them in {@code meters}.
     */
    public void install(RestfulServer server, ServerBase base, AuditSink audit, MeterRegistry meters) {
        requireUsableBase(base);
        server.registerInterceptor(interceptor);
        if (issuesTokens()) {
            FhirContext context = server.getFhirContext();
            server.registerInterceptor(new SmartEndpoints(
                    new TokenEndpoint(clients, issuer, usedAssertions, context, audit, meters), base.url()));
            server.registerInterceptor(new SmartCapabilityStatement(base));
        }
    }

    /**
     * The discovery document for {@code baseUrl} as a servlet of its own, for a host that also serves
     * it outside the FHIR base (clients look for {@code /.well-known/smart-configuration} at the
     * host's root too). Only with our own tokens.
     */
    public HttpServlet discoveryServlet(String baseUrl) {
        if (!issuesTokens()) {
            throw new IllegalStateException("Only a server that issues its own tokens has a SMART configuration");
        }
        String base = ServerBase.fixed(baseUrl).url();
        return new HttpServlet() {
            @Override
            protected void service(HttpServletRequest request, HttpServletResponse response) throws IOException {
                SmartConfiguration.serve(base, request, response);
            }
        };
    }
}
