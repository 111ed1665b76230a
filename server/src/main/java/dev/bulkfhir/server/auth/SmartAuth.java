package dev.bulkfhir.server.auth;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.RestfulServer;
import dev.bulkfhir.providers.auth.BearerAuthInterceptor;
import dev.bulkfhir.providers.auth.RequestAuthorizer;
import dev.bulkfhir.server.ServerSettings;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SMART Backend Services for the standalone server: the token endpoint at
 * {@code [base]/auth/token}, {@code [base]/.well-known/smart-configuration}, the bearer
 * interceptor and the CapabilityStatement's security. With auth off, only the interceptor, which
 * then admits everyone as {@code ClientAccess.ANONYMOUS}.
 *
 * <pre>
 * SmartAuth auth = SmartAuth.create(settings, context);
 * auth.addServlets(handler, "/fhir");      // next to the FHIR servlet
 * auth.install(restfulServer);             // from RestfulServer.initialize()
 * </pre>
 */
public final class SmartAuth {

    public static final String TOKEN_PATH = "/auth/token";
    public static final String DISCOVERY_PATH = "/.well-known/smart-configuration";

    private static final Logger log = LoggerFactory.getLogger(SmartAuth.class);

    private final FhirContext context;
    private final ClientRegistry registry;
    private final AccessTokenIssuer issuer;
    private final BearerAuthInterceptor interceptor;

    private SmartAuth(FhirContext context, ClientRegistry registry, AccessTokenIssuer issuer) {
        this.context = context;
        this.registry = registry;
        this.issuer = issuer;
        this.interceptor = new BearerAuthInterceptor(
                issuer == null ? RequestAuthorizer.off() : RequestAuthorizer.bearerTokens(issuer.verifier()));
    }

    /** Reads the clients file and the signing key (making it on first start); fails if either is broken. */
    public static SmartAuth create(ServerSettings settings, FhirContext context) throws Exception {
        AuthSettings auth = settings.auth();
        if (!auth.enabled()) {
            log.warn("AUTH IS OFF: every request is served without a token. For local trials only.");
            return new SmartAuth(context, null, null);
        }
        ClientRegistry registry = ClientRegistry.load(auth.effectiveClientsFile(settings.dataDir()));
        AccessTokenIssuer issuer = AccessTokenIssuer.fromKeyFile(auth.effectiveSigningKeyFile(settings.dataDir()),
                auth.tokenLifetime());
        log.info("Auth is on: {} client(s) registered in {}", registry.size(), registry.file().toAbsolutePath());
        return new SmartAuth(context, registry, issuer);
    }

    public boolean enabled() {
        return issuer != null;
    }

    /** Null when auth is off. */
    public ClientRegistry clients() {
        return registry;
    }

    /**
     * The interceptor, e.g. to let export code decide about its own operations and files
     * ({@code allowOperationForAnyClient}, {@code allowExportDownloads}) before {@link #install}.
     */
    public BearerAuthInterceptor interceptor() {
        return interceptor;
    }

    /** @param basePrefix the FHIR base path, "" for the root */
    public void addServlets(ServletContextHandler handler, String basePrefix) {
        if (enabled()) {
            // Exact mappings win over the FHIR servlet's prefix mapping, so these never reach HAPI.
            handler.addServlet(new ServletHolder("smart-token", new TokenEndpointServlet(registry, issuer, context)),
                    basePrefix + TOKEN_PATH);
            handler.addServlet(new ServletHolder("smart-configuration", new SmartConfigurationServlet()),
                    basePrefix + DISCOVERY_PATH);
        }
    }

    public void install(RestfulServer server) {
        server.registerInterceptor(interceptor);
        if (enabled()) {
            server.registerInterceptor(new SmartCapabilityStatement());
        }
    }
}
