package dev.bulkfhir.server.ops;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A strict reader of the Prometheus text format (0.0.4): every line is a {@code # HELP}, a
 * {@code # TYPE} or a sample {@code name{label="value",...} number}; anything else fails the test.
 * Samples are keyed by their series as written, e.g. {@code up{job="x"}}.
 */
final class PrometheusText {

    private static final String NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
    private static final String LABEL = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
    private static final Pattern SAMPLE = Pattern.compile("(" + NAME + "(?:\\{(?:" + LABEL + "(?:," + LABEL
            + ")*,?)?\\})?) (-?[0-9.eE+-]+|NaN|[+-]Inf)(?: -?[0-9]+)?");
    private static final Pattern HELP = Pattern.compile("# HELP " + NAME + " .*");
    private static final Pattern TYPE = Pattern.compile("# TYPE " + NAME + " (counter|gauge|histogram|summary|untyped)");

    static Map<String, Double> parse(String text) {
        Map<String, Double> samples = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || HELP.matcher(line).matches() || TYPE.matcher(line).matches()) continue;
            Matcher sample = SAMPLE.matcher(line);
            if (!sample.matches()) fail("Not Prometheus text: " + line);
            samples.put(sample.group(1), Double.parseDouble(sample.group(2).replace("Inf", "Infinity")));
        }
        return samples;
    }
}
