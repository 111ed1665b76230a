package dev.bulkfhir.server.load;

import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.parser.IParserErrorHandler;
import ca.uhn.fhir.parser.json.BaseJsonLikeValue;

/**
 * Rejects a resource whenever HAPI would otherwise drop or mangle part of it silently (an element
 * the R4 model does not have, a value it cannot read, a list where one value belongs, an extension
 * without url): a loaded resource is either stored whole or not at all. Harmless irregularities (a
 * number written as a string, a contained resource nobody references) are let through, as HAPI's
 * lenient handler does.
 */
final class StrictParseErrors implements IParserErrorHandler {

    /**
     * Set when HAPI let something through that it will not encode as the source has it (so the
     * source JSON cannot be stored as it is); cleared by the caller before each parse.
     */
    boolean irregular;

    @Override
    public void unknownElement(IParseLocation location, String name) {
        throw new DataFormatException("Unknown element '" + name + "'" + where(location)
                + " (not in the FHIR R4 model; the resource would be stored without it)");
    }

    @Override
    public void unknownAttribute(IParseLocation location, String name) {
        throw new DataFormatException("Unknown attribute '" + name + "'" + where(location));
    }

    @Override
    public void invalidValue(IParseLocation location, String value, String error) {
        String shown = value == null ? "" : value.length() > 80 ? value.substring(0, 80) + "..." : value;
        throw new DataFormatException("Invalid value '" + shown + "'" + where(location)
                + (error == null ? "" : ": " + error));
    }

    @Override
    public void unexpectedRepeatingElement(IParseLocation location, String name) {
        throw new DataFormatException("Element '" + name + "'" + where(location)
                + " holds a list but allows only one value");
    }

    @Override
    public void incorrectJsonType(IParseLocation location, String name, BaseJsonLikeValue.ValueType expected,
            BaseJsonLikeValue.ScalarType expectedScalar, BaseJsonLikeValue.ValueType found,
            BaseJsonLikeValue.ScalarType foundScalar) {
        if (expected != found) {
            throw new DataFormatException("Element '" + name + "'" + where(location) + " should be "
                    + describe(expected) + " but is " + describe(found));
        }
        irregular = true; // e.g. a number written as a string
    }

    @Override
    public void containedResourceWithNoId(IParseLocation location) {
        irregular = true;
    }

    @Override
    public void missingRequiredElement(IParseLocation location, String name) {
        // e.g. an extension without url, which HAPI would store as "url": null
        throw new DataFormatException("Missing required element '" + name + "'" + where(location));
    }

    @Override
    public void unknownReference(IParseLocation location, String reference) {
        irregular = true;
    }

    @Override
    public void invalidInternalReference(IParseLocation location, String reference) {
        irregular = true;
    }

    @Override
    public void extensionContainsValueAndNestedExtensions(IParseLocation location) {
        irregular = true;
    }

    private static String where(IParseLocation location) {
        return location == null || location.getParentElementName() == null ? ""
                : " in '" + location.getParentElementName() + "'";
    }

    private static String describe(BaseJsonLikeValue.ValueType type) {
        if (type == null) return "absent";
        return switch (type) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case SCALAR -> "a single value";
            case NULL -> "null";
        };
    }
}
