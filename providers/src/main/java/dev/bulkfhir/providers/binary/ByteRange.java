package dev.bulkfhir.providers.binary;

import java.util.Locale;

/**
 * One HTTP byte range (RFC 9110 section 14), resolved against the content size. Only a single range
 * is served as 206; several ranges, other units and malformed headers are ignored, which the RFC
 * allows, and the whole content is sent.
 */
record ByteRange(long first, long last) {

    /** A syntactically valid range that lies wholly outside the content: 416. */
    static final class Unsatisfiable extends Exception {
        Unsatisfiable() {
            super(null, null, false, false);
        }
    }

    long length() {
        return last - first + 1;
    }

    /** The range to serve, or null for the whole content. */
    static ByteRange parse(String header, long size) throws Unsatisfiable {
        if (header == null) {
            return null;
        }
        String value = header.trim();
        if (!value.toLowerCase(Locale.ROOT).startsWith("bytes=")) {
            return null;
        }
        String spec = value.substring(6).trim();
        if (spec.contains(",")) {
            return null;
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return null;
        }
        String from = spec.substring(0, dash).trim();
        String to = spec.substring(dash + 1).trim();
        try {
            if (from.isEmpty()) {
                // Suffix range: the last N bytes.
                long suffix = digits(to);
                if (suffix == 0 || size == 0) {
                    throw new Unsatisfiable();
                }
                return new ByteRange(Math.max(0, size - suffix), size - 1);
            }
            long first = digits(from);
            long last = to.isEmpty() ? Long.MAX_VALUE : digits(to);
            if (last < first) {
                return null;
            }
            if (first >= size) {
                throw new Unsatisfiable();
            }
            return new ByteRange(first, Math.min(last, size - 1));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static long digits(String text) {
        if (text.isEmpty() || text.length() > 18 || !text.chars().allMatch(Character::isDigit)) {
            throw new NumberFormatException(text);
        }
        return Long.parseLong(text);
    }
}
