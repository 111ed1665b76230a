package dev.bulkfhir.storage.resource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds JSON numbers too long to store. HAPI keeps a decimal as a {@code BigDecimal} and writes it
 * out in full, so {@code 1e1000} (6 bytes) is stored as 1001 digits, which no JSON reader with the
 * usual limits (Jackson's, HAPI's among them: 1000) reads back; and {@code 1e999999} costs HAPI's
 * parser most of a minute. A number is refused if written out it could pass {@link #MAX_LENGTH}
 * characters: checked on the request before HAPI parses it (the exponent tells), and on what HAPI
 * encodes before it is stored (any other way in, XML among them).
 */
public final class JsonNumbers {

    /** Jackson's default limit on the length of a number it reads. */
    public static final int MAX_LENGTH = 1000;

    private JsonNumbers() {
    }

    /**
     * Why the first number in the JSON that is, or would be written out as, longer than
     * {@link #MAX_LENGTH} characters cannot be stored, naming its element; null if there is none.
     * Malformed JSON is left for the parser to judge.
     */
    public static String findTooLong(byte[] json, int offset, int length) {
        int end = offset + length;
        String root = null;
        List<String> keys = new ArrayList<>(); // the current key of each enclosing object
        StringBuilder containers = new StringBuilder(); // '{' or '[' for each enclosing container
        boolean expectKey = false;
        for (int i = offset; i < end; i++) {
            byte b = json[i];
            switch (b) {
                case '"' -> {
                    int close = closingQuote(json, i, end);
                    if (close < 0) return null;
                    boolean resourceType = keys.size() == 1 && containers.length() == 1
                            && "resourceType".equals(keys.get(0));
                    String text = !(expectKey || resourceType) ? null : close - i <= 256
                            ? new String(json, i + 1, close - i - 1, StandardCharsets.UTF_8) : "?";
                    if (expectKey) {
                        keys.set(keys.size() - 1, text);
                    } else if (resourceType) {
                        root = text;
                    }
                    expectKey = false;
                    i = close;
                }
                case '{' -> {
                    containers.append('{');
                    keys.add(null);
                    expectKey = true;
                }
                case '[' -> containers.append('[');
                case '}', ']' -> {
                    if (containers.isEmpty()) return null;
                    if (containers.charAt(containers.length() - 1) == '{') keys.remove(keys.size() - 1);
                    containers.setLength(containers.length() - 1);
                }
                case ',' -> expectKey = !containers.isEmpty() && containers.charAt(containers.length() - 1) == '{';
                case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' -> {
                    int stop = i;
                    while (stop < end && isNumberByte(json[stop])) stop++;
                    String number = tooLong(json, i, stop);
                    if (number != null) {
                        return name(root, keys) + ": the number " + number + " is too long to store: written out"
                                + " in full, as this server stores decimals, a number may have at most " + MAX_LENGTH
                                + " characters.";
                    }
                    i = stop - 1;
                }
                default -> {
                }
            }
        }
        return null;
    }

    private static String name(String root, List<String> keys) {
        StringBuilder name = new StringBuilder(root == null ? "" : root);
        for (String key : keys) {
            if (key == null) continue;
            if (!name.isEmpty()) name.append('.');
            name.append(key);
        }
        return name.toString();
    }

    /** The number (abbreviated) if it is or would expand past the limit; null if it fits. */
    private static String tooLong(byte[] json, int from, int to) {
        int exponentAt = -1;
        for (int i = from; i < to; i++) {
            if (json[i] == 'e' || json[i] == 'E') {
                exponentAt = i;
                break;
            }
        }
        long written = to - from;
        if (exponentAt >= 0) {
            int digits = exponentAt + 1;
            if (digits < to && (json[digits] == '+' || json[digits] == '-')) digits++;
            while (digits < to && json[digits] == '0') digits++;
            // More than 4 significant exponent digits is past the limit whatever the mantissa.
            long exponent = to - digits > 4 ? Long.MAX_VALUE : to == digits ? 0
                    : Long.parseLong(new String(json, digits, to - digits, StandardCharsets.US_ASCII));
            written = exponent > MAX_LENGTH ? MAX_LENGTH + 1 : exponentAt - from + exponent;
        }
        if (written <= MAX_LENGTH) return null;
        String number = new String(json, from, Math.min(to - from, 24), StandardCharsets.US_ASCII);
        return to - from > 24 ? number + "..." : number;
    }

    private static boolean isNumberByte(byte b) {
        return (b >= '0' && b <= '9') || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E';
    }

    private static int closingQuote(byte[] json, int open, int end) {
        for (int i = open + 1; i < end; i++) {
            if (json[i] == '\\') {
                i++;
            } else if (json[i] == '"') {
                return i;
            }
        }
        return -1;
    }
}
