package dev.bulkfhir.server.crud;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.RuntimeSearchParam;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.RestSearchParameterTypeEnum;
import org.hl7.fhir.instance.model.api.IBaseConformance;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.CapabilityStatement.CapabilityStatementRestResourceComponent;

/**
 * HAPI declares every search parameter of the generic provider for every type, and every
 * _include there could be; this trims the CapabilityStatement to what each type
 * really has, so it declares exactly what works.
 */
public final class CapabilityStatementCustomizer {

    private final FhirContext context;

    public CapabilityStatementCustomizer(FhirContext context) {
        this.context = context;
    }

    @Hook(Pointcut.SERVER_CAPABILITY_STATEMENT_GENERATED)
    public void customize(IBaseConformance statement) {
        CapabilityStatement capability = (CapabilityStatement) statement;
        capability.getSoftware().setName("Bulk FHIR");
        for (CapabilityStatement.CapabilityStatementRestComponent rest : capability.getRest()) {
            for (CapabilityStatementRestResourceComponent resource : rest.getResource()) {
                resource.getSearchParam().removeIf(param -> !supports(resource.getType(), param.getName()));
                resource.getSearchInclude().clear(); // search takes no _include
            }
        }
    }

    private boolean supports(String type, String name) {
        if (!name.equals("patient") && !name.equals("subject")) {
            return true;
        }
        RuntimeSearchParam param = context.getResourceDefinition(type).getSearchParam(name);
        return param != null && param.getParamType() == RestSearchParameterTypeEnum.REFERENCE;
    }
}
