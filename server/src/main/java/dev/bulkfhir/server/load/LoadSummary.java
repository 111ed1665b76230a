package dev.bulkfhir.server.load;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a load did.
 *
 * @param loaded       resources stored
 * @param rejected     lines, entries and files not stored (may exceed {@code rejections.size()})
 * @param rejections   the first {@value Loader#MAX_KEPT_REJECTIONS} rejections, in file order
 * @param elapsed      wall-clock time of the whole load
 * @param files        files read
 * @param loadedByType resources stored per resource type, by type name
 */
public record LoadSummary(long loaded, long rejected, List<Rejection> rejections, Duration elapsed, int files,
        Map<String, Long> loadedByType) {

    /** How many rejections {@link #print} lists before "and N more". */
    public static final int PRINTED_REJECTIONS = 50;

    public LoadSummary {
        rejections = List.copyOf(rejections);
        loadedByType = Map.copyOf(loadedByType);
    }

    public double resourcesPerSecond() {
        double seconds = elapsed.toNanos() / 1e9;
        return seconds <= 0 ? 0 : loaded / seconds;
    }

    /** The closing summary: totals, speed, resources per type and the rejections with their reasons. */
    public void print(PrintStream out) {
        out.printf(Locale.ROOT, "Loaded %,d resources from %,d file%s in %.1f s (%,.0f resources/s)%n", loaded, files,
                files == 1 ? "" : "s", elapsed.toMillis() / 1000.0, resourcesPerSecond());
        loadedByType.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
                .forEach(e -> out.printf(Locale.ROOT, "  %-28s %,12d%n", e.getKey(), e.getValue()));
        if (rejected == 0) {
            out.println("Rejected: none");
            return;
        }
        out.printf(Locale.ROOT, "Rejected %,d:%n", rejected);
        int shown = Math.min(PRINTED_REJECTIONS, rejections.size());
        for (int i = 0; i < shown; i++) {
            out.println("  " + rejections.get(i));
        }
        if (rejected > shown) {
            out.printf(Locale.ROOT, "  ... and %,d more%n", rejected - shown);
        }
    }
}
