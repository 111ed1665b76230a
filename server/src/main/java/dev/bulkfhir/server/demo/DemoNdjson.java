package dev.bulkfhir.server.demo;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes the demo population as NDJSON, one file per resource type ({@code Patient.ndjson},
 * {@code Observation.ndjson}...), for load benchmarks and for trying bulk importers:
 *
 * <pre>java -cp bulk-fhir-server.jar dev.bulkfhir.server.demo.DemoNdjson --patients 40000 --out DIR [--seed 1]</pre>
 */
public final class DemoNdjson {

    private DemoNdjson() {
    }

    public static void main(String[] args) throws IOException {
        int patients = 1000;
        long seed = 1;
        Path out = null;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--patients" -> patients = Integer.parseInt(require(args[i], value));
                case "--seed" -> seed = Long.parseLong(require(args[i], value));
                case "--out" -> out = Path.of(require(args[i], value));
                default -> usage("Unknown argument: " + args[i]);
            }
            i++;
        }
        if (out == null) {
            usage("--out is required");
        }
        long start = System.nanoTime();
        Map<String, Long> counts = write(FhirContext.forR4Cached(), patients, seed, out);
        long total = counts.values().stream().mapToLong(Long::longValue).sum();
        System.out.printf("Wrote %,d resources for %,d patients to %s in %.1f s%n", total, patients, out,
                (System.nanoTime() - start) / 1e9);
        counts.forEach((type, count) -> System.out.printf("  %-20s %,10d%n", type, count));
    }

    /** Writes {@code <Type>.ndjson} files into {@code dir} (created if missing); returns counts per type. */
    public static Map<String, Long> write(FhirContext context, int patients, long seed, Path dir) throws IOException {
        Files.createDirectories(dir);
        IParser parser = context.newJsonParser().setPrettyPrint(false);
        Map<String, Writer> writers = new TreeMap<>();
        Map<String, Long> counts = new TreeMap<>();
        try {
            new DemoData(context, seed).generate(patients, resource -> {
                String type = context.getResourceType(resource);
                try {
                    Writer writer = writers.get(type);
                    if (writer == null) {
                        writer = new BufferedWriter(Files.newBufferedWriter(dir.resolve(type + ".ndjson"),
                                StandardCharsets.UTF_8), 1 << 16);
                        writers.put(type, writer);
                    }
                    // Encoding to a string first: HAPI flushes the writer after every resource.
                    writer.write(parser.encodeResourceToString(resource));
                    writer.write('\n');
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                counts.merge(type, 1L, Long::sum);
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } finally {
            for (Writer writer : writers.values()) {
                writer.close();
            }
        }
        return counts;
    }

    private static String require(String flag, String value) {
        if (value == null) {
            usage(flag + " needs a value");
        }
        return value;
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("Usage: DemoNdjson --patients N --out DIR [--seed S]");
        System.exit(2);
    }
}
