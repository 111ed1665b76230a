package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.ForbiddenOperationException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.export.ExportRequest.Level;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.source.ResourceSource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IPrimitiveType;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.Reference;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Reads and checks a kickoff request (Bulk Data Access IG v2.0.0) into an {@link ExportRequest}.
 * Every problem found is reported at once, each naming its parameter, in one 400 OperationOutcome.
 *
 * <p>Headers: a missing {@code Accept} or {@code Prefer} is taken as {@code application/fhir+json} and
 * {@code respond-async} (the IG allows either answer; this is the forgiving one). Present but unusable
 * ones are refused: an {@code Accept} that admits no JSON, a {@code Prefer} without {@code respond-async}.
 * With {@code Prefer: handling=lenient}, what is unsupported (not what is malformed) becomes a warning
 * instead of an error: unknown parameters, types, elements, patients and filters are then left out
 * and named in the kickoff's OperationOutcome and in the export's error file.
 */
final class KickoffParser {

    static final int MAX_PATIENTS = 10_000;
    private static final Set<String> OUTPUT_FORMATS = Set.of("application/fhir+ndjson", "application/ndjson", "ndjson");
    /** Parameters HAPI itself honours for the answer's own format. */
    private static final Set<String> RESPONSE_PARAMETERS = Set.of("_format", "_pretty");
    private static final Set<String> EXPORT_PARAMETERS = Set.of("_outputFormat", "_since", "_type", "_elements",
            "patient", "_typeFilter", "includeAssociatedData", "_until", "organizeOutputBy", "allowPartialManifests");
    private static final Set<String> JSON_ACCEPT = Set.of("application/fhir+json", "application/json+fhir",
            "application/json", "application/*", "*/*");
    /** FHIR instant: a full date and time with seconds and a zone. */
    private static final Pattern INSTANT = Pattern.compile(
            "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})");
    /** Where {@code patient} references from a Parameters body are collected (GET ones are refused). */
    private static final String BODY_PATIENT = "patient (body)";
    /** A _typeFilter list is split where the next query starts: ",Type?". */
    private static final Pattern NEXT_FILTER = Pattern.compile(",(?=[A-Z][A-Za-z]*\\?)");

    private final FhirContext context;
    private final ExportTypes types;
    private final ResourceSource source;

    KickoffParser(FhirContext context, ExportTypes types, ResourceSource source) {
        this.context = context;
        this.types = types;
        this.source = source;
    }

    /** What the kickoff asked for, after checking; warnings name what was accepted but ignored. */
    record Parsed(ExportRequest request, List<String> warnings) {}

    /**
     * Refuses, in this order: a type the client may not read (403), an unknown Group (404), then every
     * problem found (400).
     *
     * @param query   the query string's parameters
     * @param groupId for a Group export, the Group; else null
     */
    Parsed parse(RequestDetails details, Map<String, String[]> query, Level level, String groupId,
            ExportClient client, Instant transactionTime) {
        List<Problem> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        boolean lenient = checkHeaders(details, problems);
        Map<String, List<String>> parameters = parameters(details, query, problems);
        client.typeCheck().requireExport(namedTypes(parameters.getOrDefault("_type", List.of())));
        Set<String> groupMembers = level == Level.GROUP ? groupMembers(groupId, transactionTime, details) : null;

        // Unknown parameters
        for (String name : parameters.keySet()) {
            if (!EXPORT_PARAMETERS.contains(name) && !RESPONSE_PARAMETERS.contains(name) && !name.equals(BODY_PATIENT)) {
                soft(lenient, problems, warnings, name, "Unknown parameter '" + name + "': an export takes _outputFormat,"
                        + " _since, _until, _type, _elements, patient, _typeFilter, includeAssociatedData,"
                        + " organizeOutputBy and allowPartialManifests.");
            }
        }

        // _outputFormat
        List<String> formats = parameters.getOrDefault("_outputFormat", List.of());
        if (formats.size() > 1) {
            problems.add(new Problem("_outputFormat", "invalid", "_outputFormat may be given once."));
        } else if (formats.size() == 1) {
            // In a query string an unencoded '+' arrives as a space.
            String format = formats.get(0).trim().replace(' ', '+');
            if (!OUTPUT_FORMATS.contains(format)) {
                problems.add(new Problem("_outputFormat", "not-supported", "_outputFormat '" + formats.get(0)
                        + "' is not supported: use application/fhir+ndjson (or application/ndjson, ndjson)."));
            }
        }

        // _since
        String since = null;
        List<String> sinces = parameters.getOrDefault("_since", List.of());
        if (sinces.size() > 1) {
            problems.add(new Problem("_since", "invalid", "_since may be given once."));
        } else if (sinces.size() == 1) {
            since = instant("_since", sinces.get(0), problems);
        }

        // _until: later than _since; one in the future is as good as the transaction time (ExportRequest.asOf)
        String until = null;
        List<String> untils = parameters.getOrDefault("_until", List.of());
        if (untils.size() > 1) {
            problems.add(new Problem("_until", "invalid", "_until may be given once."));
        } else if (untils.size() == 1) {
            until = instant("_until", untils.get(0), problems);
            if (until != null && since != null && !Instant.parse(until).isAfter(Instant.parse(since))) {
                problems.add(new Problem("_until", "invalid", "_until (" + until + ") must be later than _since ("
                        + since + "): nothing changed between them."));
            }
        }

        String organizeOutputBy = organizeOutputBy(parameters.getOrDefault("organizeOutputBy", List.of()), lenient,
                problems, warnings);
        boolean allowPartialManifests = allowPartialManifests(parameters.getOrDefault("allowPartialManifests",
                List.of()), problems);
        // Output organized by patient holds only the Patient compartment's types, at every level.
        Level typeLevel = organizeOutputBy != null ? Level.PATIENT : level;

        // _type: when given, exactly its valid types are exported (none, if leniency dropped them all)
        boolean typesNamed = parameters.containsKey("_type");
        Set<String> requested = new LinkedHashSet<>();
        for (String value : parameters.getOrDefault("_type", List.of())) {
            for (String item : value.split(",", -1)) {
                String type = item.trim();
                if (type.isEmpty()) {
                    problems.add(new Problem("_type", "invalid", "_type has an empty entry: give resource type names"
                            + " separated by commas, e.g. _type=Patient,Observation."));
                } else if (!types.isType(type)) {
                    soft(lenient, problems, warnings, "_type", "_type names '" + type
                            + "', which is not an R4 resource type.");
                } else if (organizeOutputBy != null && level == Level.SYSTEM && !types.inPatientCompartment(type)) {
                    soft(lenient, problems, warnings, "_type", "_type names '" + type + "', which is not in the"
                            + " Patient compartment: output organized by Patient holds only the Patients and their"
                            + " compartments' resources.");
                } else if (level != Level.SYSTEM && !types.inPatientCompartment(type)) {
                    soft(lenient, problems, warnings, "_type", "_type names '" + type + "', which is not in the"
                            + " Patient compartment: a " + (level == Level.GROUP ? "Group" : "Patient")
                            + " export holds only the Patients and their compartments' resources.");
                } else {
                    requested.add(type);
                }
            }
        }
        Set<String> candidates = new TreeSet<>(typesNamed ? requested : types.defaults(typeLevel));
        if (!typesNamed && client.readableTypes() != null) {
            candidates.retainAll(client.readableTypes());
        }

        List<String> elements = elements(parameters.getOrDefault("_elements", List.of()), candidates, lenient,
                problems, warnings);
        List<String> filters = typeFilters(parameters.getOrDefault("_typeFilter", List.of()), typeLevel,
                typesNamed ? requested : null, lenient, problems, warnings);
        List<String> patients = patients(details, parameters, level, groupMembers, transactionTime, lenient,
                problems, warnings);

        String associatedData = null;
        for (String value : parameters.getOrDefault("includeAssociatedData", List.of())) {
            for (String item : value.split(",")) {
                String code = item.strip();
                if (code.equals(AssociatedProvenance.LATEST) || code.equals(AssociatedProvenance.RELEVANT)) {
                    // Both: the least restrictive applies (the IG), and Relevant holds all that Latest does.
                    if (!AssociatedProvenance.RELEVANT.equals(associatedData)) associatedData = code;
                } else if (!code.isEmpty()) {
                    soft(lenient, problems, warnings, "includeAssociatedData", "includeAssociatedData=" + code
                            + " is not supported by this server: it supports " + AssociatedProvenance.LATEST + " and "
                            + AssociatedProvenance.RELEVANT + ".");
                }
            }
        }
        if (associatedData != null && !client.mayRead("Provenance")) {
            throw new ForbiddenOperationException("This client may not read Provenance (includeAssociatedData).",
                    OperationOutcomes.of("error", "forbidden", "This client may not read Provenance,"
                            + " which includeAssociatedData=" + associatedData + " exports."));
        }

        if (!problems.isEmpty()) {
            throw invalid(problems);
        }
        List<String> typeList = !typesNamed && client.readableTypes() == null ? List.of() : List.copyOf(candidates);
        return new Parsed(new ExportRequest(level, groupId, typeList, typesNamed, since, elements, filters, patients,
                warnings, until, associatedData, organizeOutputBy, allowPartialManifests, details.getTenantId()), warnings);
    }

    /** The resource types {@code _type} names, in order; the rest is for the checks that follow. */
    private List<String> namedTypes(List<String> values) {
        List<String> named = new ArrayList<>();
        for (String value : values) {
            for (String item : value.split(",")) {
                if (types.isType(item.trim())) named.add(item.trim());
            }
        }
        return named;
    }

    /** The Group's patients at the transaction time; 404 for a Group this server does not know. */
    private Set<String> groupMembers(String groupId, Instant transactionTime, RequestDetails details) {
        if (!ResourceStore.isValidId(groupId)) {
            throw OperationOutcomes.notFound("Group/" + groupId + " is not known to this server.");
        }
        return source.groupMembers(groupId, transactionTime, details.getTenantId()).orElseThrow(() ->
                OperationOutcomes.notFound("Group/" + groupId + " is not known to this server."));
    }

    /** One OperationOutcome with an issue per problem found: 400. */
    private static InvalidRequestException invalid(List<Problem> problems) {
        String summary = problems.size() == 1 ? problems.get(0).message()
                : problems.size() + " problems with this export request: " + problems.get(0).message() + " ...";
        return new InvalidRequestException(summary, OperationOutcomes.of(problems.stream()
                .map(problem -> new OperationOutcomes.Issue("error", problem.code(), problem.message(),
                        problem.location())).toList()));
    }

    /**
     * One thing wrong with a request.
     *
     * @param location the parameter or header it is about, e.g. {@code _type}
     * @param code     an IssueType code: {@code invalid}, {@code not-supported}, {@code not-found}...
     */
    private record Problem(String location, String code, String message) {}

    /** organizeOutputBy: Patient, or null (files by type); other resource types are not supported. */
    private String organizeOutputBy(List<String> values, boolean lenient, List<Problem> problems,
            List<String> warnings) {
        if (values.isEmpty()) return null;
        if (values.size() > 1) {
            problems.add(new Problem("organizeOutputBy", "invalid", "organizeOutputBy may be given once."));
            return null;
        }
        String type = values.get(0).trim();
        if (type.equals("Patient")) return type;
        if (!types.isType(type)) {
            problems.add(new Problem("organizeOutputBy", "invalid", "organizeOutputBy '" + values.get(0) + "' is not"
                    + " an R4 resource type."));
        } else {
            soft(lenient, problems, warnings, "organizeOutputBy", "organizeOutputBy=" + type + " is not supported:"
                    + " this server organizes output by Patient only (or by resource type, without organizeOutputBy).");
        }
        return null;
    }

    private static boolean allowPartialManifests(List<String> values, List<Problem> problems) {
        if (values.isEmpty()) return false;
        String value = values.get(0).trim().toLowerCase(Locale.ROOT);
        if (values.size() > 1 || !(value.equals("true") || value.equals("false"))) {
            problems.add(new Problem("allowPartialManifests", "invalid", "allowPartialManifests takes one value,"
                    + " true or false."));
            return false;
        }
        return value.equals("true");
    }

    /** Accept and Prefer, as the class comment says; returns whether handling=lenient was asked for. */
    private static boolean checkHeaders(RequestDetails details, List<Problem> problems) {
        List<String> accepts = details.getHeaders(Constants.HEADER_ACCEPT);
        if (accepts != null && !accepts.isEmpty() && !acceptsJson(accepts)) {
            problems.add(new Problem("Accept", "not-supported", "Accept '" + String.join(", ", accepts) + "' is not"
                    + " supported for a kickoff: send Accept: application/fhir+json."));
        }
        boolean lenient = false;
        List<String> prefers = details.getHeaders(Constants.HEADER_PREFER);
        if (prefers != null && !prefers.isEmpty()) {
            boolean async = false;
            for (String header : prefers) {
                for (String preference : header.split(",")) {
                    String token = preference.trim().toLowerCase(Locale.ROOT);
                    async |= token.equals("respond-async");
                    lenient |= token.replace(" ", "").equals("handling=lenient");
                }
            }
            if (!async) {
                problems.add(new Problem("Prefer", "not-supported", "Prefer '" + String.join(", ", prefers) + "' is not"
                        + " supported: an export runs asynchronously; send Prefer: respond-async."));
            }
        }
        return lenient;
    }

    private static boolean acceptsJson(List<String> headers) {
        for (String header : headers) {
            for (String range : header.split(",")) {
                String[] parts = range.split(";", -1); // never empty, even for a bare ";"
                String type = parts[0].trim().toLowerCase(Locale.ROOT);
                boolean excluded = false;
                for (int i = 1; i < parts.length; i++) {
                    String parameter = parts[i].trim();
                    if (parameter.startsWith("q=") && parameter.substring(2).trim().matches("0(\\.0*)?")) excluded = true;
                }
                if (!excluded && JSON_ACCEPT.contains(type)) return true;
            }
        }
        return false;
    }

    /** The query string's parameters and, for a POST, the Parameters body's, by name. */
    private Map<String, List<String>> parameters(RequestDetails details, Map<String, String[]> query,
            List<Problem> problems) {
        Map<String, List<String>> parameters = new LinkedHashMap<>();
        query.forEach((name, values) -> {
            for (String value : values) {
                if (hasControlCharacter(name) || hasControlCharacter(value)) {
                    // Malformed, not unsupported: refused with handling=lenient too (trim() would hide a NUL).
                    problems.add(new Problem(printable(name), "invalid", "Parameter '" + printable(name)
                            + "' has a control character (e.g. %00) in its name or value."));
                    continue;
                }
                parameters.computeIfAbsent(name, n -> new ArrayList<>()).add(value);
            }
        });
        if (details.getRequestType() != RequestTypeEnum.POST) {
            return parameters;
        }
        IBaseResource body = details.getResource();
        if (body == null) {
            return parameters;
        }
        if (!(body instanceof Parameters parametersBody)) {
            problems.add(new Problem("body", "invalid", "A POST kickoff takes a Parameters resource as its body, not "
                    + context.getResourceType(body) + "."));
            return parameters;
        }
        for (Parameters.ParametersParameterComponent parameter : parametersBody.getParameter()) {
            String name = parameter.getName();
            if (name == null || name.isBlank()) {
                problems.add(new Problem("body", "invalid", "A parameter in the Parameters body has no name."));
                continue;
            }
            String value = null;
            if (parameter.getValue() instanceof Reference reference) {
                value = reference.getReference();
            } else if (parameter.getValue() instanceof IPrimitiveType<?> primitive) {
                value = primitive.getValueAsString();
            }
            if (value == null) {
                problems.add(new Problem(name, "invalid", "Parameter '" + name + "' in the Parameters body needs a value"
                        + (name.equals("patient") ? "Reference (e.g. {\"reference\": \"Patient/123\"})" : "[x] string")
                        + "."));
                continue;
            }
            if (hasControlCharacter(name) || hasControlCharacter(value)) {
                problems.add(new Problem(printable(name), "invalid", "Parameter '" + printable(name)
                        + "' in the Parameters body has a control character in its name or value."));
                continue;
            }
            parameters.computeIfAbsent(name.equals("patient") ? BODY_PATIENT : name, n -> new ArrayList<>())
                    .add(value);
        }
        return parameters;
    }

    private static boolean hasControlCharacter(String text) {
        return text.chars().anyMatch(Character::isISOControl);
    }

    /** A parameter name fit to quote in an answer: control characters shown as '?'. */
    private static String printable(String name) {
        return name.codePoints().map(c -> Character.isISOControl(c) ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
    }

    private static String instant(String name, String raw, List<Problem> problems) {
        // An unencoded '+' of a zone offset arrives as a space.
        String value = raw.trim().replace(' ', '+');
        if (INSTANT.matcher(value).matches()) {
            try {
                return OffsetDateTime.parse(value).toInstant().toString();
            } catch (DateTimeParseException e) {
                // fall through
            }
        }
        problems.add(new Problem(name, "invalid", name + " '" + raw + "' is not a FHIR instant: give a date and"
                + " time with seconds and a time zone, e.g. 2024-01-01T00:00:00Z (URL-encode a '+' as %2B)."));
        return null;
    }

    private List<String> elements(List<String> values, Set<String> candidates, boolean lenient, List<Problem> problems,
            List<String> warnings) {
        List<String> elements = new ArrayList<>();
        for (String value : values) {
            for (String item : value.split(",", -1)) {
                String element = item.trim();
                String problem = null;
                int dot = element.indexOf('.');
                if (element.isEmpty()) {
                    problem = "_elements has an empty entry.";
                } else if (dot >= 0) {
                    String type = element.substring(0, dot);
                    String name = element.substring(dot + 1);
                    if (!types.isType(type)) {
                        problem = "_elements names '" + element + "', but '" + type + "' is not an R4 resource type.";
                    } else if (name.contains(".")) {
                        problem = "_elements names '" + element + "': only root elements are allowed (e.g. "
                                + type + "." + name.substring(0, name.indexOf('.')) + ").";
                    } else if (LineTransform.rootElement(context.getResourceDefinition(type), name) == null) {
                        problem = "_elements names '" + element + "', but " + type + " has no element '" + name + "'.";
                    }
                } else if (candidates.stream().noneMatch(type ->
                        LineTransform.rootElement(context.getResourceDefinition(type), element) != null)) {
                    problem = "_elements names '" + element + "', which no exported resource type has.";
                }
                if (problem == null) {
                    elements.add(element);
                } else if (element.isEmpty()) {
                    problems.add(new Problem("_elements", "invalid", problem));
                } else {
                    soft(lenient, problems, warnings, "_elements", problem);
                }
            }
        }
        return elements;
    }

    /** @param requested the types {@code _type} names, or null when it is not given */
    private List<String> typeFilters(List<String> values, Level level, Set<String> requested, boolean lenient,
            List<Problem> problems, List<String> warnings) {
        List<String> filters = new ArrayList<>();
        Set<String> droppedTypes = new LinkedHashSet<>();
        for (String value : values) {
            for (String query : NEXT_FILTER.split(value)) {
                String text = query.trim();
                if (text.isEmpty()) continue;
                try {
                    TypeFilter filter = TypeFilter.parse(context, text);
                    if (requested != null && !requested.contains(filter.type())) {
                        throw new TypeFilter.Unsupported("_typeFilter '" + text + "' is about " + filter.type()
                                + ", which _type does not ask for.");
                    }
                    if (level != Level.SYSTEM && !types.inPatientCompartment(filter.type())) {
                        throw new TypeFilter.Unsupported("_typeFilter '" + text + "' is about " + filter.type()
                                + ", which is not in the Patient compartment.");
                    }
                    filters.add(text);
                } catch (TypeFilter.Unsupported e) {
                    soft(lenient, problems, warnings, "_typeFilter", e.getMessage());
                    int question = text.indexOf('?');
                    droppedTypes.add(question < 0 ? text : text.substring(0, question));
                }
            }
        }
        // Leniently dropping one of a type's ORed queries would narrow the others: drop them all, and say so.
        filters.removeIf(filter -> {
            String type = filter.substring(0, filter.indexOf('?'));
            if (!droppedTypes.contains(type)) return false;
            // Strictly, the kickoff is refused anyway, for the query that was not understood.
            if (lenient) {
                soft(true, problems, warnings, "_typeFilter", "_typeFilter '" + filter + "' is not applied either:"
                        + " another " + type + " query was ignored, and the queries of a type are ORed, so the rest"
                        + " alone would leave out what it matches. Every " + type + " in scope is exported.");
            }
            return true;
        });
        return filters;
    }

    private List<String> patients(RequestDetails details, Map<String, List<String>> parameters, Level level,
            Set<String> groupMembers, Instant transactionTime, boolean lenient, List<Problem> problems,
            List<String> warnings) {
        if (parameters.containsKey("patient")) {
            problems.add(new Problem("patient", "not-supported", "patient is accepted only in the Parameters body of a"
                    + " POST kickoff, as valueReference (e.g. {\"name\": \"patient\", \"valueReference\":"
                    + " {\"reference\": \"Patient/123\"}})."));
        }
        List<String> references = parameters.get(BODY_PATIENT);
        if (references == null) {
            return null;
        }
        if (level == Level.SYSTEM) {
            problems.add(new Problem("patient", "not-supported", "patient applies to Patient and Group exports only,"
                    + " not to a system-level $export."));
            return null;
        }
        if (references.size() > MAX_PATIENTS) {
            problems.add(new Problem("patient", "too-costly", "At most " + MAX_PATIENTS + " patient parameters are"
                    + " accepted in one kickoff; this one has " + references.size() + "."));
            return null;
        }
        Set<String> ids = new LinkedHashSet<>();
        for (String reference : references) {
            IdType id = new IdType(reference);
            if (!"Patient".equals(id.getResourceType()) || !id.hasIdPart()
                    || !ResourceStore.isValidId(id.getIdPart())) {
                problems.add(new Problem("patient", "invalid", "patient '" + reference + "' is not a reference to a"
                        + " Patient (Patient/[id])."));
            } else {
                ids.add(id.getIdPart());
            }
        }
        if (ids.isEmpty()) {
            return List.of();
        }
        Set<String> existing = source.existingPatients(ids, transactionTime, details.getTenantId());
        Set<String> unknown = new LinkedHashSet<>(ids);
        unknown.removeAll(existing);
        if (!unknown.isEmpty()) {
            soft(lenient, problems, warnings, "patient", "No such Patient: " + sample(unknown) + ".");
            ids.retainAll(existing);
        }
        if (groupMembers != null) {
            Set<String> outsiders = new LinkedHashSet<>(ids);
            outsiders.removeAll(groupMembers);
            if (!outsiders.isEmpty()) {
                soft(lenient, problems, warnings, "patient", "Not a member of Group/" + details.getId().getIdPart()
                        + ": " + sample(outsiders) + ".");
                ids.retainAll(groupMembers);
            }
        }
        return List.copyOf(ids);
    }

    private static String sample(Set<String> ids) {
        List<String> shown = ids.stream().limit(10).map(id -> "Patient/" + id).toList();
        return String.join(", ", shown) + (ids.size() > shown.size() ? " and " + (ids.size() - shown.size()) + " more" : "");
    }

    /** Something unsupported: an error, or with handling=lenient a warning (and the thing is left out). */
    private static void soft(boolean lenient, List<Problem> problems, List<String> warnings, String location,
            String message) {
        if (lenient) {
            warnings.add(message + " (ignored: Prefer handling=lenient)");
        } else {
            problems.add(new Problem(location, "not-supported", message));
        }
    }
}
