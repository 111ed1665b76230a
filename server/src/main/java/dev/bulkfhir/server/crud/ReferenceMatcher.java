package dev.bulkfhir.server.crud;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.RuntimeSearchParam;
import ca.uhn.fhir.rest.api.RestSearchParameterTypeEnum;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import org.hl7.fhir.instance.model.api.IBaseReference;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Evaluates a reference search parameter (such as {@code patient} or {@code subject}) on a
 * parsed resource, from the paths of the R4 search parameter definition HAPI carries.
 */
final class ReferenceMatcher {

    /** {@code Observation.subject.where(resolve() is Patient)} restricts a path to one target type. */
    private static final Pattern RESOLVE_IS = Pattern.compile("^(.*)\\.where\\(resolve\\(\\) is (\\w+)\\)$");
    private static final Pattern SIMPLE_PATH = Pattern.compile("^\\w+(\\.\\w+)+$");

    private record Path(String path, String targetType) {}

    private final FhirContext context;
    private final List<Path> paths;
    private final String targetType;
    private final String targetId;

    private ReferenceMatcher(FhirContext context, List<Path> paths, String reference) {
        this.context = context;
        this.paths = paths;
        int slash = reference.indexOf('/');
        this.targetType = slash < 0 ? null : reference.substring(0, slash);
        this.targetId = reference.substring(slash + 1);
    }

    static ReferenceMatcher of(FhirContext context, String type, String name, String reference) {
        RuntimeSearchParam param = context.getResourceDefinition(type).getSearchParam(name);
        if (param == null || param.getParamType() != RestSearchParameterTypeEnum.REFERENCE) {
            throw new InvalidRequestException("Resource type " + type + " has no search parameter '" + name + "'.");
        }
        List<Path> paths = new ArrayList<>();
        for (String raw : param.getPathsSplitForResourceType(type)) {
            String path = raw.trim();
            String target = null;
            Matcher resolve = RESOLVE_IS.matcher(path);
            if (resolve.matches()) {
                path = resolve.group(1);
                target = resolve.group(2);
            }
            if (SIMPLE_PATH.matcher(path).matches()) {
                paths.add(new Path(path, target));
            }
        }
        if (paths.isEmpty()) {
            throw new InvalidRequestException("Search parameter '" + name + "' of " + type
                    + " is not supported by this server.");
        }
        return new ReferenceMatcher(context, paths, reference);
    }

    boolean matches(IBaseResource resource) {
        var terser = context.newTerser();
        for (Path path : paths) {
            for (IBaseReference reference : terser.getValues(resource, path.path, IBaseReference.class)) {
                IIdType referenced = reference.getReferenceElement();
                if (referenced == null || !targetId.equals(referenced.getIdPart())) continue;
                String actualType = referenced.getResourceType();
                if (path.targetType != null && actualType != null && !path.targetType.equals(actualType)) continue;
                if (targetType != null && actualType != null && !targetType.equals(actualType)) continue;
                return true;
            }
        }
        return false;
    }
}
