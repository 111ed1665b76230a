package dev.bulkfhir.providers.export;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import org.hl7.fhir.instance.model.api.IBaseConformance;
import org.hl7.fhir.r4.model.CapabilityStatement;

/**
 * Declares conformance to the Bulk Data IG. The three {@code export} operations are declared by HAPI
 * from their {@code @Operation} annotations, with the IG's OperationDefinition canonicals.
 */
final class ExportCapabilities {

    static final String BULK_DATA = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data";

    @Hook(Pointcut.SERVER_CAPABILITY_STATEMENT_GENERATED)
    public void declare(IBaseConformance statement) {
        if (statement instanceof CapabilityStatement capability
                && capability.getInstantiates().stream().noneMatch(c -> BULK_DATA.equals(c.getValue()))) {
            capability.addInstantiates(BULK_DATA);
        }
    }
}
