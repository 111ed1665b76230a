package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.providers.auth.SmartScope;

import java.util.Set;
import java.util.TreeSet;

/** Which resource types an export level covers by default. */
final class ExportTypes {

    private final Set<String> all;
    private final Set<String> compartment;
    private final Set<String> defaults;

    ExportTypes(FhirContext context) {
        this.all = new TreeSet<>(context.getResourceTypes());
        Set<String> inCompartment = new TreeSet<>();
        for (String type : all) {
            if (type.equals("Patient")
                    || !context.getResourceDefinition(type).getSearchParamsForCompartmentName("Patient").isEmpty()) {
                inCompartment.add(type);
            }
        }
        inCompartment.removeAll(SmartScope.NAMED_ONLY);
        this.compartment = inCompartment;
        this.defaults = new TreeSet<>(all);
        defaults.removeAll(SmartScope.NAMED_ONLY); // the audit trail only when _type names it
    }

    boolean isType(String name) {
        return all.contains(name);
    }

    /** Patient and the types of its compartment: what Patient and Group exports hold. */
    boolean inPatientCompartment(String type) {
        return compartment.contains(type);
    }

    /**
     * What an export without {@code _type} covers, as the IG has it ("all supported resources"): every
     * type at system level, Binary included, the Patient compartment otherwise (the client's scopes
     * narrow both).
     */
    Set<String> defaults(ExportRequest.Level level) {
        return level == ExportRequest.Level.SYSTEM ? defaults : compartment;
    }
}
