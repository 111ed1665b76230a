package dev.bulkfhir.providers.binary;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which content a browser may render in place, and the {@code Content-Disposition} to send. Binary
 * content comes from clients and may be active (HTML, SVG, script, XML with XSLT): only types on a
 * short passive list are shown inline; everything else is sandboxed and downloaded.
 */
final class DownloadHeaders {

    private static final Set<String> PASSIVE = Set.of(
            "application/pdf", "text/plain", "text/csv", "application/json", "application/fhir+json",
            "application/fhir+ndjson", "application/ndjson", "application/x-ndjson", "application/octet-stream",
            "application/zip", "application/gzip", "application/dicom", "image/png", "image/jpeg", "image/gif",
            "image/webp", "image/bmp", "image/tiff", "image/avif");

    private static final Map<String, String> EXTENSIONS = Map.ofEntries(
            Map.entry("application/pdf", ".pdf"), Map.entry("text/plain", ".txt"), Map.entry("text/csv", ".csv"),
            Map.entry("text/html", ".html"), Map.entry("application/json", ".json"),
            Map.entry("application/fhir+json", ".json"), Map.entry("application/fhir+xml", ".xml"),
            Map.entry("application/xml", ".xml"), Map.entry("text/xml", ".xml"),
            Map.entry("application/fhir+ndjson", ".ndjson"), Map.entry("application/ndjson", ".ndjson"),
            Map.entry("application/x-ndjson", ".ndjson"), Map.entry("image/png", ".png"),
            Map.entry("image/jpeg", ".jpg"), Map.entry("image/gif", ".gif"), Map.entry("image/svg+xml", ".svg"),
            Map.entry("application/dicom", ".dcm"), Map.entry("application/zip", ".zip"),
            Map.entry("application/gzip", ".gz"));

    /** filename*=charset'lang'value (RFC 6266/8187) or filename="value" or filename=token. */
    private static final Pattern EXTENDED = Pattern.compile("(?i)(?:^|;)\\s*filename\\*\\s*=\\s*([^']*)'[^']*'([^;\\s]+)");
    private static final Pattern PLAIN = Pattern.compile("(?i)(?:^|;)\\s*filename\\s*=\\s*(?:\"((?:[^\"\\\\]|\\\\.)*)\"|([^;\\s]+))");

    private DownloadHeaders() {
    }

    static boolean isPassive(String contentType) {
        String type = ReadRule.mediaType(contentType);
        return PASSIVE.contains(type) || type.startsWith("audio/") || type.startsWith("video/");
    }

    /** A safe download name: no path, no control or quote characters, at most 200 characters. */
    static String sanitize(String filename) {
        if (filename == null) {
            return null;
        }
        String name = filename.replace('\\', '/');
        name = name.substring(name.lastIndexOf('/') + 1);
        StringBuilder safe = new StringBuilder(name.length());
        name.codePoints().forEach(c -> safe.appendCodePoint(Character.isISOControl(c) || c == '"' ? '_' : c));
        String result = safe.toString().strip();
        while (result.startsWith(".")) {
            result = result.substring(1);
        }
        if (result.length() > 200) {
            result = result.substring(0, 200);
        }
        return result.isEmpty() ? null : result;
    }

    /** The name to download as: the known one (with an extension added if it has none), else id.ext. */
    static String filename(String known, String id, String contentType) {
        String extension = EXTENSIONS.getOrDefault(ReadRule.mediaType(contentType), ".bin");
        String name = sanitize(known);
        if (name == null) {
            return id + extension;
        }
        return name.contains(".") ? name : name + extension;
    }

    /** {@code inline} or {@code attachment}, with the name in ASCII and, if needed, in UTF-8. */
    static String disposition(boolean attachment, String filename) {
        String type = attachment ? "attachment" : "inline";
        if (filename == null) {
            return type;
        }
        StringBuilder ascii = new StringBuilder();
        boolean plain = true;
        for (char c : filename.toCharArray()) {
            boolean safe = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%';
            ascii.append(safe ? c : '_');
            plain &= safe;
        }
        String header = type + "; filename=\"" + ascii + "\"";
        return plain ? header : header + "; filename*=UTF-8''" + percentEncode(filename);
    }

    /** The file name a client gave in a request's {@code Content-Disposition}, or null. */
    static String filenameFromRequest(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        Matcher extended = EXTENDED.matcher(header);
        if (extended.find() && extended.group(1).equalsIgnoreCase("UTF-8")) {
            try {
                return sanitize(java.net.URLDecoder.decode(extended.group(2).replace("+", "%2B"),
                        StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                // Broken percent-encoding: fall back to the plain form.
            }
        }
        Matcher plain = PLAIN.matcher(header);
        if (plain.find()) {
            String quoted = plain.group(1);
            return sanitize(utf8IfItWas(quoted != null ? quoted.replaceAll("\\\\(.)", "$1") : plain.group(2)));
        }
        return null;
    }

    /**
     * Headers arrive decoded as ISO-8859-1, but many clients (curl, browsers) send a plain
     * {@code filename=} in UTF-8: if the bytes are valid UTF-8, that is what they were.
     */
    private static String utf8IfItWas(String value) {
        if (value.chars().allMatch(c -> c < 0x80) || value.chars().anyMatch(c -> c > 0xff)) {
            return value;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .decode(java.nio.ByteBuffer.wrap(value.getBytes(StandardCharsets.ISO_8859_1))).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            return value;
        }
    }

    /** RFC 8187 value characters: letters, digits and !#$&+-.^_`|~ stay; every other byte is %XX. */
    private static String percentEncode(String value) {
        StringBuilder out = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "!#$&+-.^_`|~".indexOf(c) >= 0) {
                out.append((char) c);
            } else {
                out.append('%').append(String.format(Locale.ROOT, "%02X", c));
            }
        }
        return out.toString();
    }
}
