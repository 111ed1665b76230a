package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.BaseRuntimeChildDefinition;
import ca.uhn.fhir.context.BaseRuntimeElementCompositeDefinition;
import ca.uhn.fhir.context.BaseRuntimeElementDefinition;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.RuntimeChildChoiceDefinition;
import org.hl7.fhir.instance.model.api.IBaseBooleanDatatype;
import org.hl7.fhir.instance.model.api.IBaseDecimalDatatype;
import org.hl7.fhir.instance.model.api.IBaseIntegerDatatype;
import org.hl7.fhir.instance.model.api.IBaseReference;
import org.hl7.fhir.r4.model.IdType;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The scan behind a {@link SourceJson}: one pass over the UTF-8 bytes that copies them without
 * whitespace, checking as it goes that HAPI would write the same. Strings and numbers are copied byte for byte.
 */
final class SourceJsonScanner {

    private static final String REFERENCE = "reference";

    /** What HAPI writes for a primitive: a JSON string, number or boolean. */
    private enum Kind { STRING, NUMBER, BOOLEAN, OTHER }

    /** Deeper than any resource HAPI's model describes but a few recursive ones (item.item...). */
    private static final int MAX_DEPTH = 64;
    /** Longer numbers are left to HAPI's JSON parser and its limits. */
    private static final int MAX_NUMBER = 64;
    /** Longer strings are left to HAPI's JSON parser and its limits. */
    private static final int MAX_STRING = 1 << 20;

    private final FhirContext context;
    /** Set when reading without HAPI's parser: check everything, find the patients. */
    private final SourceJson.Reader reader;
    private final boolean validating;
    private final byte[] in;
    private final int from;
    private final int end;
    private final UnaryOperator<String> references;
    private final int[] rewritten;
    private int pos;
    private byte[] out;
    private int size;
    private int depth;
    private boolean nonAscii;
    private Set<String> patients;

    SourceJsonScanner(FhirContext context, SourceJson.Reader reader, byte[] in, int from, int end,
            UnaryOperator<String> references, int[] rewritten) {
        this.context = context;
        this.reader = reader;
        this.validating = reader != null;
        this.in = in;
        this.from = from;
        this.pos = from;
        this.end = end;
        this.references = references;
        this.rewritten = rewritten;
        this.out = new byte[end - from + 16];
    }

    SourceJson resource() {
        expect('{');
        // resourceType first, as HAPI writes it (and as the scan needs it).
        int typeKey = key();
        if (!equalsAscii(typeKey, pos - 1, "resourceType")) throw giveUp();
        expect(':');
        String resourceType = plainString();
        BaseRuntimeElementCompositeDefinition<?> definition = context.getResourceDefinition(resourceType);
        PatientCompartment.PathTree owners = null;
        if (validating) {
            owners = reader.compartment.pathTree(resourceType);
            if (owners == null) throw giveUp(); // paths only HAPI's terser follows
            patients = new LinkedHashSet<>(4);
        }
        String id = null;
        byte[] metaRest = new byte[0];
        int[] keys = remember(new int[32], 0, typeKey, typeKey + 13);
        int keyCount = 1;
        Object[] choices = null;
        write('{'); // a placeholder, dropped at the end
        while (comma('}')) {
            int keyStart = key();
            int keyEnd = pos - 1;
            keys = remember(keys, keyCount++, keyStart, keyEnd);
            expect(':');
            String name = KEYS.get(in, keyStart + 1, keyEnd);
            switch (name) {
                case "id" -> {
                    if (validating) {
                        id = ownId();
                    } else {
                        skipServerValue();
                    }
                }
                case "meta" -> metaRest = meta();
                case "contained", "text" -> throw giveUp(); // text: HAPI re-encodes the XHTML
                default -> {
                    write(',');
                    writeKey(keyStart, keyEnd);
                    choices = once(choices, member(definition, name, owners, false));
                }
            }
        }
        expect('}');
        skipWhitespace();
        if (pos != end) throw giveUp();
        write('}');
        if (validating) {
            if (nonAscii && !validUtf8()) throw giveUp();
            if (id != null && resourceType.equals("Patient")) {
                // A Patient is in its own compartment, named first as PatientCompartment names it.
                Set<String> own = new LinkedHashSet<>(patients.size() + 1);
                own.add(id);
                own.addAll(patients);
                patients = own;
            }
        }
        // Each element was written after a comma; drop the placeholder.
        return new SourceJson(resourceType, id, metaRest, Arrays.copyOfRange(out, 1, size),
                validating ? Set.copyOf(patients) : null);
    }

    /** Meta's elements but versionId and lastUpdated, each after a comma, as a new array. */
    private byte[] meta() {
        expect('{');
        int mark = size;
        int[] keys = new int[16];
        int keyCount = 0;
        if (peek() != '}') {
            do {
                int keyStart = key();
                int keyEnd = pos - 1;
                keys = remember(keys, keyCount++, keyStart, keyEnd);
                expect(':');
                String name = KEYS.get(in, keyStart + 1, keyEnd);
                switch (name) {
                    case "versionId", "lastUpdated" -> {
                        if (validating) {
                            // The server replaces them, but HAPI would still reject a bad one.
                            int before = size;
                            member(context.getElementDefinition("Meta"), name, null, false);
                            size = before;
                        } else {
                            skipServerValue();
                        }
                    }
                    case "source", "profile", "security", "tag" -> {
                        write(',');
                        writeKey(keyStart, keyEnd);
                        member(context.getElementDefinition("Meta"), name, null, false);
                    }
                    // id, extension (which HAPI writes before versionId), _versionId...
                    default -> throw giveUp();
                }
            } while (comma('}'));
        }
        expect('}');
        byte[] rest = Arrays.copyOfRange(out, mark, size);
        size = mark;
        return rest;
    }

    /**
     * The value of the element {@code name} of an element of type {@code parent}: what HAPI would
     * write for it decides what the source may hold.
     *
     * @param path      where the element's parent is on the way to the patient compartment's
     *                  references (null if off that way, or not validating); for Reference.reference,
     *                  the reference's own place, and null unless it names an owner
     * @param reference whether this is Reference.reference
     * @return the element's child definition
     */
    private BaseRuntimeChildDefinition member(BaseRuntimeElementDefinition<?> parent, String name,
            PatientCompartment.PathTree path, boolean reference) {
        if (!(parent instanceof BaseRuntimeElementCompositeDefinition<?> composite)) throw giveUp();
        // HAPI reads extensions its own way (a url is required, value and nested extensions exclude
        // each other...): it must judge them.
        if (validating && (name.equals("extension") || name.equals("modifierExtension"))) throw giveUp();
        BaseRuntimeChildDefinition child = composite.getChildByName(name);
        // Unknown here: an extension's url, an element's id... HAPI knows best.
        if (child == null) throw giveUp();
        BaseRuntimeElementDefinition<?> type = child.getChildByName(name);
        if (type == null) throw giveUp();
        PatientCompartment.PathTree next = reference || path == null ? path : path.children.get(child.getElementName());
        boolean repeating = child.getMax() > 1 || child.getMax() == -1;
        if (peek() == '[') {
            if (!repeating) throw giveUp();
            pos++;
            write('[');
            if (peek() == ']') throw giveUp(); // HAPI leaves empty arrays out
            int items = 0;
            do {
                if (items++ > 0) write(',');
                value(child, type, next, reference);
            } while (comma(']'));
            expect(']');
            write(']');
        } else {
            // A single value where a list belongs: HAPI rejects an object, and writes a list for a primitive.
            if (repeating) throw giveUp();
            value(child, type, next, reference);
        }
        return child;
    }

    /**
     * Records a choice element ({@code value[x]}) of one object: a second one (valueString next to
     * valueQuantity) gives up, as HAPI rejects it.
     */
    private static Object[] once(Object[] seen, BaseRuntimeChildDefinition child) {
        if (!(child instanceof RuntimeChildChoiceDefinition)) return seen;
        if (seen == null) return new Object[] {child, null, null, null};
        for (int i = 0; i < seen.length; i++) {
            if (seen[i] == child) throw giveUp();
            if (seen[i] == null) {
                seen[i] = child;
                return seen;
            }
        }
        Object[] grown = Arrays.copyOf(seen, seen.length * 2);
        grown[seen.length] = child;
        return grown;
    }

    private void value(BaseRuntimeChildDefinition child, BaseRuntimeElementDefinition<?> type,
            PatientCompartment.PathTree path, boolean reference) {
        byte b = peek();
        switch (type.getChildType()) {
            case COMPOSITE_DATATYPE, RESOURCE_BLOCK -> {
                if (b != '{') throw giveUp();
                object(type, path);
            }
            case PRIMITIVE_DATATYPE, ID_DATATYPE -> {
                Kind kind = kind(type);
                String value;
                boolean check = validating && !TAKES_ANY_STRING.get(type.getImplementingClass());
                if (b == '"' && kind == Kind.STRING) {
                    value = string(reference, reference && path != null, check);
                } else if ((b == 't' || b == 'f') && kind == Kind.BOOLEAN) {
                    value = literal(b == 't' ? "true" : "false");
                } else if ((b == '-' || (b >= '0' && b <= '9')) && kind == Kind.NUMBER) {
                    value = number();
                } else {
                    throw giveUp(); // null, or a JSON type HAPI would write otherwise
                }
                if (check) reader.check(child, type, value);
            }
            // narrative XHTML, nested or contained resources, extensions HAPI models itself
            default -> throw giveUp();
        }
    }

    /**
     * Datatypes whose parse takes any string as it is (or trimmed): HAPI's parser cannot reject a
     * value of theirs, so there is nothing to check.
     */
    private static final ClassValue<Boolean> TAKES_ANY_STRING = new ClassValue<>() {
        @Override
        protected Boolean computeValue(Class<?> implementation) {
            return Set.<Class<?>>of(org.hl7.fhir.r4.model.StringType.class, org.hl7.fhir.r4.model.MarkdownType.class,
                    org.hl7.fhir.r4.model.CodeType.class, org.hl7.fhir.r4.model.UriType.class,
                    org.hl7.fhir.r4.model.UrlType.class, org.hl7.fhir.r4.model.CanonicalType.class,
                    org.hl7.fhir.r4.model.OidType.class, org.hl7.fhir.r4.model.UuidType.class)
                    .contains(implementation);
        }
    };

    private static Kind kind(BaseRuntimeElementDefinition<?> type) {
        return KINDS.get(type.getImplementingClass());
    }

    private static final ClassValue<Kind> KINDS = new ClassValue<>() {
        @Override
        protected Kind computeValue(Class<?> implementation) {
            return kindOf(implementation);
        }
    };

    private static Kind kindOf(Class<?> implementation) {
        // HAPI decodes base64 and encodes it again (line breaks and padding may change).
        if (org.hl7.fhir.r4.model.Base64BinaryType.class.isAssignableFrom(implementation)) return Kind.OTHER;
        if (IBaseBooleanDatatype.class.isAssignableFrom(implementation)) return Kind.BOOLEAN;
        if (IBaseIntegerDatatype.class.isAssignableFrom(implementation)
                || IBaseDecimalDatatype.class.isAssignableFrom(implementation)) {
            return Kind.NUMBER;
        }
        return Kind.STRING;
    }

    private void object(BaseRuntimeElementDefinition<?> type, PatientCompartment.PathTree path) {
        if (++depth > MAX_DEPTH) throw giveUp();
        pos++;
        write('{');
        boolean isReference = IBaseReference.class.isAssignableFrom(type.getImplementingClass());
        int[] keys = new int[32];
        int keyCount = 0;
        int fields = 0;
        Object[] choices = null;
        if (peek() != '}') {
            do {
                int keyStart = key();
                int keyEnd = pos - 1;
                // the id and extensions of a primitive (HAPI leaves out those that hold only an id)
                if (in[keyStart + 1] == '_') throw giveUp();
                if (!equalsAscii(keyStart, keyEnd, "id")) fields++;
                keys = remember(keys, keyCount++, keyStart, keyEnd);
                expect(':');
                if (keyCount > 1) write(',');
                writeKey(keyStart, keyEnd);
                boolean reference = isReference && equalsAscii(keyStart, keyEnd, REFERENCE);
                // In a reference, only Reference.reference matters, where the path names owners.
                PatientCompartment.PathTree below = !isReference ? path
                        : reference && path != null && path.holdsOwners ? path : null;
                choices = once(choices, member(type, KEYS.get(in, keyStart + 1, keyEnd), below, reference));
            } while (comma('}'));
        }
        expect('}');
        if (fields == 0) throw giveUp(); // HAPI leaves out elements that are empty or hold only an id
        write('}');
        depth--;
    }

    /**
     * A string value, copied as it is; a reference may be rewritten.
     *
     * @param owner  whether a reference here names a compartment owner
     * @param decode whether the value is needed (to be checked)
     * @return the value (decoded) if needed or a reference; null otherwise
     */
    private String string(boolean reference, boolean owner, boolean decode) {
        int start = pos;
        boolean ascii = scanString();
        int stop = pos; // after the closing quote
        if (stop - start == 2) throw giveUp(); // empty
        if (stop - start > MAX_STRING) throw giveUp();
        checkNotPadded(start, stop, ascii);
        nonAscii |= !ascii;
        // A local reference ("#x") is checked by HAPI against the contained resources.
        if (reference && validating && in[start + 1] == '#') throw giveUp();
        if (!decode && !(reference && (references != null || owner))) {
            writeRange(start, stop);
            return null;
        }
        String value = decode(start + 1, stop - 1, ascii);
        if (reference) {
            String target = references == null ? null : references.apply(value);
            if (target != null) {
                if (rewritten != null) rewritten[0]++;
                writeQuoted(target);
                return target;
            }
            if (owner) PatientCompartment.addIfPatient(new IdType(value), patients);
        }
        writeRange(start, stop);
        return value;
    }

    /** A string's content between its quotes, with the escapes {@link #scanString} lets through undone. */
    private String decode(int from, int to, boolean ascii) {
        int escape = -1;
        for (int i = from; i < to; i++) {
            if (in[i] == '\\') {
                escape = i;
                break;
            }
        }
        if (escape < 0) return new String(in, from, to - from, ascii ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
        StringBuilder value = new StringBuilder(to - from);
        int run = from;
        for (int i = escape; i < to; i++) {
            if (in[i] != '\\') continue;
            value.append(new String(in, run, i - run, StandardCharsets.UTF_8));
            byte escaped = in[++i];
            value.append(switch (escaped) {
                case 'n' -> '\n';
                case 'r' -> '\r';
                case 't' -> '\t';
                default -> (char) escaped; // '"' or '\\'
            });
            run = i + 1;
        }
        return value.append(new String(in, run, to - run, StandardCharsets.UTF_8)).toString();
    }

    /**
     * Scans a string from its opening quote to after its closing one; true if it is all ASCII.
     * Jackson writes the escapes {@code \" \\ \n \r \t} as they are, but not {@code \/},
     * {@code \b}, {@code \f} or {@code \}{@code uXXXX}: those give up.
     */
    private boolean scanString() {
        pos++;
        boolean ascii = true;
        while (true) {
            if (pos >= end) throw giveUp();
            int b = in[pos] & 0xFF;
            if (b == '"') {
                pos++;
                return ascii;
            }
            if (b < 0x20) throw giveUp();
            if (b == '\\') {
                if (pos + 1 >= end) throw giveUp();
                byte escaped = in[pos + 1];
                if (escaped != '"' && escaped != '\\' && escaped != 'n' && escaped != 'r' && escaped != 't') {
                    throw giveUp();
                }
                pos += 2;
                continue;
            }
            if (b >= 0x80) ascii = false;
            pos++;
        }
    }

    /** No whitespace at either end of a string's value (HAPI may trim it). */
    private void checkNotPadded(int start, int stop, boolean ascii) {
        byte first = in[start + 1];
        byte last = in[stop - 2];
        if (first == ' ' || first == '\\' || last == ' ') throw giveUp();
        if (stop - start >= 4 && in[stop - 3] == '\\') throw giveUp(); // ends in an escape (or \\): be safe
        if (!ascii && (first < 0 || last < 0)) {
            String value = new String(in, start + 1, stop - start - 2, StandardCharsets.UTF_8);
            int head = value.codePointAt(0);
            int tail = value.codePointBefore(value.length());
            if (Character.isWhitespace(head) || Character.isSpaceChar(head) || Character.isWhitespace(tail)
                    || Character.isSpaceChar(tail)) {
                throw giveUp();
            }
        }
    }

    private String number() {
        int start = pos;
        boolean fraction = false;
        while (pos < end) {
            byte b = in[pos];
            if (b == '.') {
                fraction = true;
            } else if (b == 'e' || b == 'E') {
                throw giveUp(); // HAPI writes BigDecimal's own notation
            } else if (b != '-' && (b < '0' || b > '9')) {
                break;
            }
            pos++;
        }
        if (pos - start > MAX_NUMBER) throw giveUp();
        String text = ascii(start, pos);
        if (fraction) {
            // HAPI keeps a decimal as a BigDecimal: copy it only where that reads back as written.
            if (!new BigDecimal(text).toString().equals(text)) throw giveUp();
        } else {
            Long.parseLong(text); // throws (gives up) on what is not an integer of a sane size
            if (text.startsWith("-0") || (text.length() > 1 && text.charAt(0) == '0')) throw giveUp();
        }
        writeRange(start, pos);
        return text;
    }

    private String literal(String word) {
        for (int i = 0; i < word.length(); i++) {
            if (pos + i >= end || in[pos + i] != word.charAt(i)) throw giveUp();
        }
        writeRange(pos, pos + word.length());
        pos += word.length();
        return word;
    }

    /** The resource's own id: a valid FHIR id as it stands, or HAPI must judge it. */
    private String ownId() {
        if (peek() != '"') throw giveUp();
        int start = pos;
        if (!scanString()) throw giveUp();
        String id = ascii(start + 1, pos - 1);
        if (!ResourceStore.isValidId(id)) throw giveUp();
        return id;
    }

    /** Whether the whole input is well-formed UTF-8 (as HAPI's parser requires). */
    private boolean validUtf8() {
        try {
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(in, from, end - from));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    /** The value of id, versionId or lastUpdated, which the server replaces. */
    private void skipServerValue() {
        if (peek() != '"') throw giveUp();
        scanString();
    }

    /** A string without escapes, such as resourceType. */
    private String plainString() {
        if (peek() != '"') throw giveUp();
        int start = pos;
        if (!scanString()) throw giveUp();
        String value = ascii(start + 1, pos - 1);
        if (value.isEmpty() || value.indexOf('\\') >= 0) throw giveUp();
        return value;
    }

    /** Scans a key; returns the position of its opening quote (pos is then after the closing one). */
    private int key() {
        if (peek() != '"') throw giveUp();
        int start = pos;
        if (!scanString() || pos - start == 2) throw giveUp();
        for (int i = start + 1; i < pos - 1; i++) {
            if (in[i] == '\\') throw giveUp();
        }
        return start;
    }

    /** Records a key's span; a key seen before in the same object gives up. */
    private int[] remember(int[] keys, int index, int start, int stop) {
        for (int i = 0; i < index; i++) {
            int otherStart = keys[2 * i];
            int otherStop = keys[2 * i + 1];
            if (otherStop - otherStart == stop - start && Arrays.equals(in, start, stop, in, otherStart, otherStop)) {
                throw giveUp();
            }
        }
        if (2 * index + 1 >= keys.length) keys = Arrays.copyOf(keys, keys.length * 2);
        keys[2 * index] = start;
        keys[2 * index + 1] = stop;
        return keys;
    }

    /** After a member or item: true if a comma follows (consumed), false if {@code close} does. */
    private boolean comma(char close) {
        byte b = peek();
        if (b == ',') {
            pos++;
            return true;
        }
        if (b == close) return false;
        throw giveUp();
    }

    private void expect(char c) {
        if (peek() != c) throw giveUp();
        pos++;
    }

    private byte peek() {
        skipWhitespace();
        if (pos >= end) throw giveUp();
        return in[pos];
    }

    private void skipWhitespace() {
        while (pos < end) {
            byte b = in[pos];
            if (b != ' ' && b != '\n' && b != '\r' && b != '\t') return;
            pos++;
        }
    }

    /** Whether the key between these quotes is {@code word}. */
    private boolean equalsAscii(int quote, int closingQuote, String word) {
        int length = closingQuote - quote - 1;
        if (length != word.length()) return false;
        for (int i = 0; i < length; i++) {
            if (in[quote + 1 + i] != word.charAt(i)) return false;
        }
        return true;
    }

    /** The bytes in [from, to) as a string; ASCII expected. */
    private String ascii(int from, int to) {
        return new String(in, from, to - from, StandardCharsets.ISO_8859_1);
    }

    private void writeKey(int quote, int closingQuote) {
        writeRange(quote, closingQuote + 1);
        write(':');
    }

    /** A rewritten reference, escaped as Jackson would. */
    private void writeQuoted(String value) {
        StringBuilder quoted = new StringBuilder(value.length() + 2).append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20) throw giveUp();
            if (c == '"' || c == '\\') quoted.append('\\');
            quoted.append(c);
        }
        byte[] bytes = quoted.append('"').toString().getBytes(StandardCharsets.UTF_8);
        ensure(bytes.length);
        System.arraycopy(bytes, 0, out, size, bytes.length);
        size += bytes.length;
    }

    private void writeRange(int from, int to) {
        ensure(to - from);
        System.arraycopy(in, from, out, size, to - from);
        size += to - from;
    }

    private void write(char c) {
        ensure(1);
        out[size++] = (byte) c;
    }

    private void ensure(int more) {
        if (size + more > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, size + more));
    }

    /** Element names seen, so that a key is not a new String (whose hash is then computed) every time. */
    private static final KeyCache KEYS = new KeyCache();

    /**
     * A small lossy table from the bytes of an ASCII key to its String. Entries are immutable and
     * replaced whole, so threads may share it without locks: at worst a key is looked up twice.
     */
    private static final class KeyCache {

        private record Entry(byte[] bytes, String key) {}

        private final Entry[] table = new Entry[4096];

        String get(byte[] in, int from, int to) {
            int hash = 1;
            for (int i = from; i < to; i++) hash = 31 * hash + in[i];
            int slot = (hash ^ (hash >>> 12)) & (table.length - 1);
            Entry entry = table[slot];
            if (entry != null && Arrays.equals(entry.bytes, 0, entry.bytes.length, in, from, to)) {
                return entry.key;
            }
            String key = new String(in, from, to - from, StandardCharsets.ISO_8859_1);
            key.hashCode(); // computed once, kept by the String
            table[slot] = new Entry(Arrays.copyOfRange(in, from, to), key);
            return key;
        }
    }

    /** Thrown to give up on the splice: HAPI must encode the resource. No stack trace, shared. */
    static final class GiveUp extends RuntimeException {
        static final GiveUp INSTANCE = new GiveUp();

        private GiveUp() {
            super(null, null, false, false);
        }
    }

    static GiveUp giveUp() {
        return GiveUp.INSTANCE;
    }
}
