package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import dev.bulkfhir.providers.ServerBase;
import org.hl7.fhir.instance.model.api.IBaseConformance;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.CapabilityStatement.CapabilityStatementRestSecurityComponent;
import org.hl7.fhir.r4.model.Extension;
import org.hl7.fhir.r4.model.UriType;

/** Declares SMART in the CapabilityStatement: the service coding and the token endpoint (oauth-uris). */
final class SmartCapabilityStatement {

    static final String SERVICE_SYSTEM = "http://terminology.hl7.org/CodeSystem/restful-security-service";
    static final String OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

    private final ServerBase base;

    SmartCapabilityStatement(ServerBase base) {
        this.base = base;
    }

    @Hook(Pointcut.SERVER_CAPABILITY_STATEMENT_GENERATED)
    public void declareSecurity(IBaseConformance statement, RequestDetails request) {
        String tokenUrl = base.of(request) + SmartAuth.TOKEN_PATH;
        for (CapabilityStatement.CapabilityStatementRestComponent rest : ((CapabilityStatement) statement).getRest()) {
            CapabilityStatementRestSecurityComponent security = rest.getSecurity();
            security.addService().setText("SMART Backend Services").addCoding()
                    .setSystem(SERVICE_SYSTEM).setCode("SMART-on-FHIR").setDisplay("SMART-on-FHIR");
            security.setDescription("Every request except this CapabilityStatement needs an access token"
                    + " (Authorization: Bearer) from the token endpoint below: SMART Backend Services,"
                    + " client_credentials with a private_key_jwt assertion signed RS384 or ES384. See "
                    + base.of(request) + SmartAuth.DISCOVERY_PATH + ".");
            Extension oauthUris = security.addExtension().setUrl(OAUTH_URIS);
            oauthUris.addExtension("token", new UriType(tokenUrl));
        }
    }
}
