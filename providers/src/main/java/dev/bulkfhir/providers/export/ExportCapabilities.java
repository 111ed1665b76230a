package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import org.hl7.fhir.instance.model.api.IBaseConformance;
import org.hl7.fhir.r4.model.CanonicalType;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Element;

import java.util.List;

/**
 * Declares conformance to the Bulk Data IG. The three {@code export} operations are declared by HAPI
 * from their {@code @Operation} annotations, with the IG's OperationDefinition canonicals. What the
 * REST API has but export does not is marked with the IG's {@code operation-not-supported} extension:
 * types outside the Patient compartment (no Patient or Group export has them), and search parameters a
 * {@code _typeFilter} cannot use. The statement is built once in a while and cached encoded
 * ({@code EncodedCapabilityStatement}), so this runs rarely.
 */
final class ExportCapabilities {

    static final String BULK_DATA = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data";
    /** The IG version implemented (STU3). */
    static final String IG_VERSION = "3.0.0";
    static final String NOT_SUPPORTED = "http://hl7.org/fhir/uv/bulkdata/Extension/operation-not-supported";

    private final FhirContext context;
    private final ExportTypes types;

    ExportCapabilities(FhirContext context, ExportTypes types) {
        this.context = context;
        this.types = types;
    }

    @Hook(Pointcut.SERVER_CAPABILITY_STATEMENT_GENERATED)
    public void declare(IBaseConformance statement) {
        if (!(statement instanceof CapabilityStatement capability)) return;
        // The bare canonical, as the IG's home page asks (and 2.0.0 clients look for), and the version.
        for (String canonical : List.of(BULK_DATA, BULK_DATA + "|" + IG_VERSION)) {
            if (capability.getInstantiates().stream().noneMatch(c -> canonical.equals(c.getValue()))) {
                capability.addInstantiates(canonical);
            }
        }
        for (CapabilityStatement.CapabilityStatementRestComponent rest : capability.getRest()) {
            for (CapabilityStatement.CapabilityStatementRestResourceComponent resource : rest.getResource()) {
                String type = resource.getType();
                if (!types.isType(type)) continue;
                if (!types.inPatientCompartment(type)) {
                    notSupported(resource, KickoffOperation.PATIENT_EXPORT_DEFINITION);
                    notSupported(resource, KickoffOperation.GROUP_EXPORT_DEFINITION);
                }
                for (CapabilityStatement.CapabilityStatementRestResourceSearchParamComponent param
                        : resource.getSearchParam()) {
                    if (!TypeFilter.supports(context, type, param.getName())) {
                        notSupported(param, BULK_DATA); // in no export's _typeFilter
                    }
                }
            }
        }
    }

    private static void notSupported(Element element, String canonical) {
        if (element.getExtensionsByUrl(NOT_SUPPORTED).stream()
                .noneMatch(e -> canonical.equals(((CanonicalType) e.getValue()).getValue()))) {
            element.addExtension(NOT_SUPPORTED, new CanonicalType(canonical));
        }
    }
}
