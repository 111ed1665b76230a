package dev.bulkfhir.storage.resource;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.function.UnaryOperator;

/**
 * The JSON a resource was parsed from, compacted, with its server-owned parts ({@code id},
 * {@code meta.versionId}, {@code meta.lastUpdated}) cut out, so that the store can write it with the
 * server's values spliced in instead of re-encoding the parsed resource with HAPI (which costs as
 * much as parsing it, and allocates far more).
 *
 * <p>The result is what HAPI would encode for the same resource whenever the source is in HAPI's
 * element order (any HAPI-written JSON, such as this server's own exports): one line,
 * {@code resourceType}, {@code id} and {@code meta} first, no whitespace, strings escaped as
 * Jackson escapes them. For other sources only the order of the elements after {@code meta} may
 * differ from HAPI's, which JSON readers (HAPI's among them) ignore.
 *
 * <p>{@link #of} gives up (returns null, and the caller lets HAPI encode the resource) wherever
 * HAPI's encoding would say something else than the source: empty or null values, strings with
 * leading or trailing whitespace, numbers that HAPI would write differently, narrative XHTML,
 * contained or nested resources, ids and extensions of primitives ({@code _given}...), elements with
 * only an id, extensions on {@code meta}, duplicate keys. The
 * caller must also give up where HAPI's parser reported an irregularity it let through (a number
 * written as a string, for instance).
 */
public final class SourceJson {

    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // as HAPI's (character-based) generator writes characters outside the BMP: as they are
            .enable(JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8)
            .build();

    private final String resourceType;
    /** Meta elements other than versionId and lastUpdated, each preceded by a comma; may be empty. */
    private final byte[] metaRest;
    /** The elements after meta, each preceded by a comma, and the closing brace. */
    private final byte[] body;

    private SourceJson(String resourceType, byte[] metaRest, byte[] body) {
        this.resourceType = resourceType;
        this.metaRest = metaRest;
        this.body = body;
    }

    public String resourceType() {
        return resourceType;
    }

    /**
     * @param json       UTF-8 JSON of one resource (already parsed successfully by HAPI)
     * @param references rewrites the value of every {@code reference} element: returns the new value,
     *                   or null to keep it; null to keep all
     * @param rewritten  counts the references rewritten (index 0), so that the caller can check the
     *                   count against its own rewrite of the parsed resource; may be null
     * @return the source, ready to be stamped; null if HAPI must encode this resource
     */
    public static SourceJson of(byte[] json, int offset, int length, UnaryOperator<String> references,
            int[] rewritten) {
        try (JsonParser in = JSON.createParser(json, offset, length)) {
            if (in.nextToken() != JsonToken.START_OBJECT) return null;
            String resourceType = null;
            ByteArrayOutputStream metaRest = new ByteArrayOutputStream(0);
            ByteArrayOutputStream body = new ByteArrayOutputStream(length + 16);
            JsonToken token;
            try (JsonGenerator out = JSON.createGenerator(body)) {
                out.writeStartObject();
                while ((token = in.nextToken()) == JsonToken.FIELD_NAME) {
                    String name = in.currentName();
                    JsonToken value = in.nextToken();
                    switch (name) {
                        case "resourceType" -> {
                            if (value != JsonToken.VALUE_STRING) return null;
                            resourceType = in.getText();
                        }
                        case "id" -> {
                            if (value.isStructStart()) return null;
                        }
                        case "meta" -> {
                            if (value != JsonToken.START_OBJECT || !meta(in, metaRest)) return null;
                        }
                        case "contained", "text" -> {
                            // text: HAPI re-encodes the narrative XHTML
                            return null;
                        }
                        default -> {
                            if (name.startsWith("_")) return null; // see copy()
                            out.writeFieldName(name);
                            if (!copy(in, out, name, references, rewritten)) return null;
                        }
                    }
                }
                if (token != JsonToken.END_OBJECT || in.nextToken() != null || resourceType == null) return null;
                out.writeEndObject();
            }
            // The generator wrote "{...}": drop the opening brace (the prefix is written at stamp time)
            // and put a comma before the first element.
            byte[] written = body.toByteArray();
            byte[] rest;
            if (written.length == 2) {
                rest = new byte[] {'}'};
            } else {
                rest = written;
                rest[0] = ',';
            }
            return new SourceJson(resourceType, metaRest.toByteArray(), rest);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Copies meta's elements but versionId and lastUpdated into {@code rest}, each after a comma. */
    private static boolean meta(JsonParser in, ByteArrayOutputStream rest) throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(64);
        try (JsonGenerator out = JSON.createGenerator(buffer)) {
            out.writeStartObject();
            JsonToken token;
            int copied = 0;
            while ((token = in.nextToken()) == JsonToken.FIELD_NAME) {
                String name = in.currentName();
                JsonToken value = in.nextToken();
                switch (name) {
                    case "versionId", "lastUpdated" -> {
                        if (value.isStructStart()) return false;
                    }
                    case "source", "profile", "security", "tag" -> {
                        out.writeFieldName(name);
                        if (!copy(in, out, name, null, null)) return false;
                        copied++;
                    }
                    default -> {
                        // id, extension (which HAPI writes before versionId), _versionId...
                        return false;
                    }
                }
            }
            if (token != JsonToken.END_OBJECT) return false;
            out.writeEndObject();
            if (copied == 0) return true;
        }
        byte[] written = buffer.toByteArray();
        // {"a":..,"b":..} -> ,"a":..,"b":..
        rest.write(',');
        rest.write(written, 1, written.length - 2);
        return true;
    }

    /** Copies the value at the current token; false if HAPI would encode it differently. */
    private static boolean copy(JsonParser in, JsonGenerator out, String name, UnaryOperator<String> references,
            int[] rewritten) throws IOException {
        JsonToken token = in.currentToken();
        switch (token) {
            case START_OBJECT -> {
                out.writeStartObject();
                int fields = 0;
                while ((token = in.nextToken()) == JsonToken.FIELD_NAME) {
                    String field = in.currentName();
                    if (field.equals("resourceType") || field.equals("div") || field.equals("contained")
                            || field.startsWith("_")) {
                        // a nested resource, narrative XHTML, or the id and extensions of a primitive
                        // (HAPI leaves out those that hold only an id)
                        return false;
                    }
                    out.writeFieldName(field);
                    in.nextToken();
                    if (!copy(in, out, field, references, rewritten)) return false;
                    if (!field.equals("id")) fields++;
                }
                if (fields == 0) return false;
                out.writeEndObject();
                return true;
            }
            case START_ARRAY -> {
                out.writeStartArray();
                int items = 0;
                while ((token = in.nextToken()) != JsonToken.END_ARRAY) {
                    if (token == null) return false;
                    if (!copy(in, out, name, references, rewritten)) return false;
                    items++;
                }
                if (items == 0) return false;
                out.writeEndArray();
                return true;
            }
            case VALUE_STRING -> {
                String text = in.getText();
                if (text.isEmpty() || Character.isWhitespace(text.charAt(0))
                        || Character.isWhitespace(text.charAt(text.length() - 1))) {
                    return false;
                }
                if (references != null && name.equals("reference")) {
                    String target = references.apply(text);
                    if (target != null) {
                        text = target;
                        if (rewritten != null) rewritten[0]++;
                    }
                }
                out.writeString(text);
                return true;
            }
            case VALUE_NUMBER_INT -> {
                String text = in.getText();
                if (text.startsWith("-0") || text.length() > 18) return false;
                out.writeNumber(text);
                return true;
            }
            case VALUE_NUMBER_FLOAT -> {
                String text = in.getText();
                // HAPI keeps a decimal as BigDecimal; write it only where that reads back as written.
                if (!new BigDecimal(text).toString().equals(text)) return false;
                out.writeNumber(text);
                return true;
            }
            case VALUE_TRUE, VALUE_FALSE -> {
                out.writeBoolean(token == JsonToken.VALUE_TRUE);
                return true;
            }
            default -> {
                return false; // null, or anything unexpected
            }
        }
    }

    /**
     * The stored JSON: the source with the server's id, versionId and lastUpdated.
     *
     * @param id          a valid FHIR id (no escaping needed)
     * @param lastUpdated as HAPI writes {@code meta.lastUpdated}
     */
    public byte[] stamp(String id, long version, String lastUpdated) {
        byte[] type = resourceType.getBytes(StandardCharsets.UTF_8);
        byte[] head = ("\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"" + version + "\",\"lastUpdated\":\""
                + lastUpdated + "\"").getBytes(StandardCharsets.US_ASCII);
        byte[] json = new byte[PREFIX.length + type.length + head.length + metaRest.length + 1 + body.length];
        int at = 0;
        System.arraycopy(PREFIX, 0, json, at, PREFIX.length);
        at += PREFIX.length;
        System.arraycopy(type, 0, json, at, type.length);
        at += type.length;
        System.arraycopy(head, 0, json, at, head.length);
        at += head.length;
        System.arraycopy(metaRest, 0, json, at, metaRest.length);
        at += metaRest.length;
        json[at++] = '}';
        System.arraycopy(body, 0, json, at, body.length);
        return json;
    }

    private static final byte[] PREFIX = "{\"resourceType\":\"".getBytes(StandardCharsets.US_ASCII);
}
