package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.BaseRuntimeChildDefinition;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.RuntimeResourceDefinition;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.util.FhirTerser;
import org.hl7.fhir.instance.model.api.IBaseResource;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What happens to a stored resource on its way into a file when the request needs more than the
 * stored bytes: {@code _typeFilter} (parse, test, keep or drop) and {@code _elements} (parse,
 * re-encode only the listed root elements plus the mandatory ones; HAPI adds the SUBSETTED tag).
 * Types without either are never parsed: {@link #of} returns null for them. One instance per type and
 * thread.
 */
final class LineTransform {

    private final List<TypeFilter> filters;
    private final IParser parser;
    private final FhirTerser terser;
    private final IParser encoder;

    private LineTransform(FhirContext context, List<TypeFilter> filters, Set<String> elements) {
        this.filters = filters;
        this.parser = context.newJsonParser();
        this.terser = context.newTerser();
        if (elements == null) {
            this.encoder = null;
        } else {
            this.encoder = context.newJsonParser();
            this.encoder.setEncodeElements(elements);
        }
    }

    /**
     * @param filters  the type's {@code _typeFilter} queries (ORed), empty for none
     * @param elements {@code _elements} as validated at kickoff ({@code Type.element} or {@code element})
     */
    static LineTransform of(FhirContext context, String type, List<TypeFilter> filters, List<String> elements) {
        Set<String> encode = elements.isEmpty() ? null : encodeSet(context, type, elements);
        if (filters.isEmpty() && encode == null) {
            return null;
        }
        return new LineTransform(context, filters, encode);
    }

    /** The root elements to keep for {@code type}: those listed for it or for every type, and the mandatory ones. */
    private static Set<String> encodeSet(FhirContext context, String type, List<String> elements) {
        RuntimeResourceDefinition definition = context.getResourceDefinition(type);
        Set<String> encode = new LinkedHashSet<>();
        for (String element : elements) {
            int dot = element.indexOf('.');
            String owner = dot < 0 ? null : element.substring(0, dot);
            String name = dot < 0 ? element : element.substring(dot + 1);
            if ((owner == null || owner.equals(type)) && rootElement(definition, name) != null) {
                encode.add(type + "." + name);
            }
        }
        for (BaseRuntimeChildDefinition child : definition.getChildren()) {
            if (child.getMin() > 0) {
                encode.add(type + "." + child.getElementName().replace("[x]", ""));
            }
        }
        return encode;
    }

    /** The root element {@code name} of a type (a choice by its base name, e.g. {@code value}), or null. */
    static BaseRuntimeChildDefinition rootElement(RuntimeResourceDefinition definition, String name) {
        BaseRuntimeChildDefinition child = definition.getChildByName(name);
        return child != null ? child : definition.getChildByName(name + "[x]");
    }

    /** The line to write, or null if the filters leave the resource out. */
    byte[] apply(byte[] json) {
        IBaseResource resource = parser.parseResource(new String(json, StandardCharsets.UTF_8));
        if (!filters.isEmpty() && filters.stream().noneMatch(filter -> filter.matches(resource, terser))) {
            return null;
        }
        if (encoder == null) {
            return json;
        }
        return encoder.encodeResourceToString(resource).getBytes(StandardCharsets.UTF_8);
    }
}
