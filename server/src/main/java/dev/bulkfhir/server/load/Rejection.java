package dev.bulkfhir.server.load;

import java.nio.file.Path;

/**
 * Something the loader did not store, and why.
 *
 * @param file   the file it came from
 * @param line   1-based line of an NDJSON file, or -1
 * @param entry  0-based index in a Bundle's {@code entry} array, or -1
 * @param reason what was wrong, in one line
 */
public record Rejection(Path file, long line, long entry, String reason) {

    static Rejection atLine(Path file, long line, String reason) {
        return new Rejection(file, line, -1, reason);
    }

    static Rejection atEntry(Path file, long entry, String reason) {
        return new Rejection(file, -1, entry, reason);
    }

    static Rejection ofFile(Path file, String reason) {
        return new Rejection(file, -1, -1, reason);
    }

    /** {@code file:12}, {@code file entry[3]} or {@code file}. */
    public String where() {
        if (line >= 0) return file + ":" + line;
        if (entry >= 0) return file + " entry[" + entry + "]";
        return file.toString();
    }

    @Override
    public String toString() {
        return where() + ": " + reason;
    }
}
