package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.RuntimeResourceDefinition;
import ca.uhn.fhir.context.RuntimeSearchParam;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.rest.api.RestSearchParameterTypeEnum;
import ca.uhn.fhir.rest.param.DateParam;
import ca.uhn.fhir.rest.param.ParamPrefixEnum;
import ca.uhn.fhir.util.FhirTerser;
import org.hl7.fhir.instance.model.api.IBase;
import org.hl7.fhir.instance.model.api.IBaseReference;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.instance.model.api.IPrimitiveType;
import org.hl7.fhir.r4.model.BaseDateTimeType;
import org.hl7.fhir.r4.model.CodeableConcept;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.ContactPoint;
import org.hl7.fhir.r4.model.Enumeration;
import org.hl7.fhir.r4.model.Identifier;
import org.hl7.fhir.r4.model.Period;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One {@code _typeFilter} query, e.g. {@code Observation?category=laboratory&date=ge2024-01-01},
 * evaluated on parsed resources. Parameters are ANDed, comma-separated values ORed, as in a search.
 * Supported: {@code _id}, {@code _lastUpdated}, and every token, reference and date search parameter
 * of the type (from the R4 definitions HAPI carries), without modifiers except a reference's target
 * type. Anything else is refused with a message naming it, so that a client never gets more data
 * than it asked for without knowing.
 */
final class TypeFilter {

    /** {@code X.where(resolve() is Patient)}: a reference path restricted to one target type. */
    private static final Pattern RESOLVE_IS = Pattern.compile("^(.*)\\.where\\(resolve\\(\\) is (\\w+)\\)$");
    /** {@code X as dateTime} or {@code X.as(dateTime)}: one type of a choice element. */
    private static final Pattern AS_TYPE = Pattern.compile("^(.*?)(?: as |\\.as\\()(\\w+)\\)?$");
    private static final Pattern SIMPLE_PATH = Pattern.compile("^\\w+(\\.\\w+)+$");
    private static final Set<String> RESULT_PARAMETERS = Set.of("_include", "_revinclude", "_sort", "_count",
            "_summary", "_elements", "_total", "_contained", "_containedType", "_format", "_pretty");

    /** Thrown for a query this server cannot evaluate; the message names what and why. */
    static final class Unsupported extends Exception {
        Unsupported(String message) {
            super(message, null, false, false);
        }
    }

    private record Path(String path, String asType, String targetType) {}

    private interface Condition {
        boolean matches(IBaseResource resource, FhirTerser terser);
    }

    private final String type;
    private final String text;
    private final List<Condition> conditions;

    private TypeFilter(String type, String text, List<Condition> conditions) {
        this.type = type;
        this.text = text;
        this.conditions = conditions;
    }

    String type() {
        return type;
    }

    @Override
    public String toString() {
        return text;
    }

    boolean matches(IBaseResource resource, FhirTerser terser) {
        for (Condition condition : conditions) {
            if (!condition.matches(resource, terser)) return false;
        }
        return true;
    }

    static TypeFilter parse(FhirContext context, String text) throws Unsupported {
        int question = text.indexOf('?');
        String type = (question < 0 ? text : text.substring(0, question)).trim();
        if (question < 0 || type.isEmpty()) {
            throw new Unsupported("_typeFilter '" + text + "' is not of the form [type]?[search parameters],"
                    + " e.g. Observation?category=laboratory.");
        }
        if (!context.getResourceTypes().contains(type)) {
            throw new Unsupported("_typeFilter '" + text + "' names '" + type + "', which is not an R4 resource type.");
        }
        RuntimeResourceDefinition definition = context.getResourceDefinition(type);
        List<Condition> conditions = new ArrayList<>();
        String query = text.substring(question + 1);
        for (String part : query.split("&")) {
            if (part.isBlank()) continue;
            int equals = part.indexOf('=');
            if (equals <= 0) {
                throw new Unsupported("_typeFilter '" + text + "': '" + part + "' is not a name=value search parameter.");
            }
            String name = decode(part.substring(0, equals));
            String value = decode(part.substring(equals + 1));
            String modifier = null;
            int colon = name.indexOf(':');
            if (colon >= 0) {
                modifier = name.substring(colon + 1);
                name = name.substring(0, colon);
            }
            if (RESULT_PARAMETERS.contains(name)) {
                throw new Unsupported("_typeFilter '" + text + "' uses " + name + ", which a _typeFilter must not use"
                        + " (only search criteria are allowed).");
            }
            RuntimeSearchParam param = definition.getSearchParam(name);
            if (param == null) {
                throw new Unsupported("_typeFilter '" + text + "': " + type + " has no search parameter '" + name + "'.");
            }
            if (value.isEmpty()) {
                throw new Unsupported("_typeFilter '" + text + "': parameter '" + name + "' has no value.");
            }
            conditions.add(condition(context, type, text, param, modifier, value));
        }
        if (conditions.isEmpty()) {
            throw new Unsupported("_typeFilter '" + text + "' has no search parameters after the '?': give at least"
                    + " one, e.g. " + type + "?_lastUpdated=ge2024-01-01.");
        }
        return new TypeFilter(type, text, conditions);
    }

    /** Whether search parameter {@code name} of {@code type} can be used in a {@code _typeFilter}. */
    static boolean supports(FhirContext context, String type, String name) {
        RuntimeSearchParam param = context.getResourceDefinition(type).getSearchParam(name);
        if (param == null) return false;
        String probe = param.getParamType() == RestSearchParameterTypeEnum.DATE ? "2000-01-01" : "x";
        try {
            parse(context, type + "?" + name + "=" + probe);
            return true;
        } catch (Unsupported e) {
            return false;
        }
    }

    private static Condition condition(FhirContext context, String type, String text, RuntimeSearchParam param,
            String modifier, String value) throws Unsupported {
        String name = param.getName();
        List<String> values = splitValues(value);
        switch (param.getParamType()) {
            case TOKEN -> {
                requireNoModifier(text, name, modifier);
                List<Path> paths = paths(context, type, text, param);
                List<String[]> tokens = new ArrayList<>();
                for (String v : values) tokens.add(token(v));
                return (resource, terser) -> anyValue(context, resource, terser, paths,
                        element -> tokens.stream().anyMatch(token -> tokenMatches(element, token)));
            }
            case REFERENCE -> {
                if (modifier != null && !context.getResourceTypes().contains(modifier)) {
                    throw new Unsupported("_typeFilter '" + text + "': modifier :" + modifier + " of '" + name
                            + "' is not supported (only a resource type, e.g. " + name + ":Patient).");
                }
                List<Path> paths = paths(context, type, text, param);
                List<String[]> references = new ArrayList<>();
                for (String v : values) references.add(reference(v, modifier));
                return (resource, terser) -> {
                    for (Path path : paths) {
                        for (IBaseReference ref : terser.getValues(resource, path.path(), IBaseReference.class)) {
                            IIdType target = ref.getReferenceElement();
                            if (target == null || target.getIdPart() == null) continue;
                            String actual = target.getResourceType();
                            if (path.targetType() != null && actual != null && !path.targetType().equals(actual)) continue;
                            for (String[] wanted : references) {
                                if (wanted[1].equals(target.getIdPart())
                                        && (wanted[0] == null || actual == null || wanted[0].equals(actual))) {
                                    return true;
                                }
                            }
                        }
                    }
                    return false;
                };
            }
            case DATE -> {
                requireNoModifier(text, name, modifier);
                List<Path> paths = paths(context, type, text, param);
                List<DateCriterion> criteria = new ArrayList<>();
                for (String v : values) criteria.add(DateCriterion.parse(text, name, v));
                return (resource, terser) -> anyValue(context, resource, terser, paths, element -> {
                    long[] range = range(element);
                    return range != null && criteria.stream().anyMatch(c -> c.matches(range));
                });
            }
            default -> throw new Unsupported("_typeFilter '" + text + "': search parameter '" + name + "' ("
                    + param.getParamType().name().toLowerCase(java.util.Locale.ROOT) + ") is not supported here;"
                    + " supported are _id, _lastUpdated and the token, reference and date parameters of " + type + ".");
        }
    }

    private static boolean anyValue(FhirContext context, IBaseResource resource, FhirTerser terser, List<Path> paths,
            java.util.function.Predicate<IBase> test) {
        for (Path path : paths) {
            for (IBase element : terser.getValues(resource, path.path())) {
                if (path.asType() != null
                        && !path.asType().equals(context.getElementDefinition(element.getClass()).getName())) {
                    continue;
                }
                if (test.test(element)) return true;
            }
        }
        return false;
    }

    private static void requireNoModifier(String text, String name, String modifier) throws Unsupported {
        if (modifier != null) {
            throw new Unsupported("_typeFilter '" + text + "': modifier :" + modifier + " of '" + name
                    + "' is not supported.");
        }
    }

    /** The search parameter's paths in a form the terser walks; a parameter with none usable is refused. */
    private static List<Path> paths(FhirContext context, String type, String text, RuntimeSearchParam param)
            throws Unsupported {
        List<Path> paths = new ArrayList<>();
        IBaseResource probe = context.getResourceDefinition(type).newInstance();
        FhirTerser terser = context.newTerser();
        for (String raw : param.getPathsSplitForResourceType(type)) {
            String path = raw.trim();
            while (path.startsWith("(") && path.endsWith(")")) path = path.substring(1, path.length() - 1).trim();
            if (path.startsWith("Resource.")) path = type + path.substring("Resource".length());
            String target = null;
            String asType = null;
            Matcher resolve = RESOLVE_IS.matcher(path);
            if (resolve.matches()) {
                path = resolve.group(1);
                target = resolve.group(2);
            }
            Matcher as = AS_TYPE.matcher(path);
            if (as.matches()) {
                path = as.group(1).trim();
                asType = as.group(2);
            }
            if (!SIMPLE_PATH.matcher(path).matches() || !path.startsWith(type + ".")) continue;
            String walkable = walkable(terser, probe, path);
            if (walkable != null) paths.add(new Path(walkable, asType, target));
        }
        if (paths.isEmpty()) {
            throw new Unsupported("_typeFilter '" + text + "': search parameter '" + param.getName() + "' of " + type
                    + " is not supported here (its path cannot be evaluated).");
        }
        return paths;
    }

    /** The path as the terser names it: a choice element's last step is {@code name[x]}. */
    private static String walkable(FhirTerser terser, IBaseResource probe, String path) {
        for (String candidate : List.of(path, path + "[x]")) {
            try {
                terser.getValues(probe, candidate);
                return candidate;
            } catch (DataFormatException | IllegalArgumentException e) {
                // try the next form
            }
        }
        return null;
    }

    /** Comma-separated alternatives; {@code \,} is a literal comma. */
    private static List<String> splitValues(String value) {
        List<String> values = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\\' && i + 1 < value.length()) {
                current.append(value.charAt(++i));
            } else if (c == ',') {
                values.add(current.toString());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        values.add(current.toString());
        return values;
    }

    /** {system, code}: system null means any, "" means none; code null means any. */
    private static String[] token(String value) {
        int bar = value.indexOf('|');
        if (bar < 0) return new String[] {null, value};
        String code = value.substring(bar + 1);
        return new String[] {value.substring(0, bar), code.isEmpty() ? null : code};
    }

    private static boolean tokenMatches(IBase element, String[] token) {
        if (element instanceof CodeableConcept concept) {
            return concept.getCoding().stream().anyMatch(coding -> tokenMatches(coding, token));
        }
        if (element instanceof Coding coding) {
            return same(token, coding.getSystem(), coding.getCode());
        }
        if (element instanceof Identifier identifier) {
            return same(token, identifier.getSystem(), identifier.getValue());
        }
        if (element instanceof ContactPoint contact) {
            return same(token, contact.hasSystem() ? contact.getSystem().toCode() : null, contact.getValue());
        }
        if (element instanceof IIdType id) {
            return same(token, null, id.getIdPart());
        }
        if (element instanceof Enumeration<?> enumeration) {
            return same(token, enumeration.getSystem(), enumeration.getValueAsString());
        }
        if (element instanceof IPrimitiveType<?> primitive) {
            return same(token, null, primitive.getValueAsString());
        }
        return false;
    }

    private static boolean same(String[] token, String system, String code) {
        if (token[0] != null) {
            if (token[0].isEmpty() ? system != null && !system.isEmpty() : !token[0].equals(system)) return false;
        }
        return token[1] == null || token[1].equals(code);
    }

    /** {type or null, id} from {@code Patient/123}, {@code 123} or an absolute URL. */
    private static String[] reference(String value, String modifierType) {
        String[] parts = value.split("/");
        String id = parts[parts.length - 1];
        String type = parts.length >= 2 ? parts[parts.length - 2] : modifierType;
        return new String[] {type, id};
    }

    /** [start, end) of a date, dateTime, instant or Period, in epoch milliseconds; null if it has none. */
    private static long[] range(IBase element) {
        if (element instanceof BaseDateTimeType date && date.getValue() != null) {
            return new long[] {date.getValue().getTime(), date.getPrecision().add(date.getValue(), 1).getTime()};
        }
        if (element instanceof Period period && (period.hasStart() || period.hasEnd())) {
            long start = period.hasStart() ? period.getStart().getTime() : Long.MIN_VALUE;
            long end = period.hasEnd() ? period.getEndElement().getPrecision().add(period.getEnd(), 1).getTime()
                    : Long.MAX_VALUE;
            return new long[] {start, end};
        }
        return null;
    }

    /** One date value with its prefix, as a range [low, high) at its precision. */
    private record DateCriterion(ParamPrefixEnum prefix, long low, long high) {

        static DateCriterion parse(String text, String name, String value) throws Unsupported {
            DateParam param;
            try {
                param = new DateParam(value);
            } catch (DataFormatException | IllegalArgumentException e) {
                throw new Unsupported("_typeFilter '" + text + "': '" + value + "' is not a valid date for '" + name
                        + "' (use e.g. ge2024-01-01 or 2024-01-01T10:00:00Z).");
            }
            if (param.getValue() == null) {
                throw new Unsupported("_typeFilter '" + text + "': '" + value + "' is not a valid date for '" + name + "'.");
            }
            ParamPrefixEnum prefix = param.getPrefix() == null ? ParamPrefixEnum.EQUAL : param.getPrefix();
            if (prefix == ParamPrefixEnum.APPROXIMATE) {
                throw new Unsupported("_typeFilter '" + text + "': the 'ap' prefix of '" + name + "' is not supported.");
            }
            long low = param.getValue().getTime();
            long high = param.getPrecision().add(param.getValue(), 1).getTime();
            return new DateCriterion(prefix, low, high);
        }

        boolean matches(long[] range) {
            boolean within = low <= range[0] && range[1] <= high;
            return switch (prefix) {
                case EQUAL -> within;
                case NOT_EQUAL -> !within;
                case GREATERTHAN -> range[1] > high;
                case LESSTHAN -> range[0] < low;
                case GREATERTHAN_OR_EQUALS -> within || range[1] > high;
                case LESSTHAN_OR_EQUALS -> within || range[0] < low;
                case STARTS_AFTER -> range[0] >= high;
                case ENDS_BEFORE -> range[1] <= low;
                default -> false;
            };
        }
    }

    /** Percent-decoding of one query component; a literal '+' stays a '+' (timezone offsets). */
    private static String decode(String text) {
        try {
            return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return text;
        }
    }
}
