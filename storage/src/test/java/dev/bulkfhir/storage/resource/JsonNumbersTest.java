package dev.bulkfhir.storage.resource;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonNumbersTest {

    static String find(String json) {
        byte[] bytes = ("  " + json + " ").getBytes(StandardCharsets.UTF_8);
        return JsonNumbers.findTooLong(bytes, 2, bytes.length - 3);
    }

    static String observation(String value) {
        return "{\"resourceType\":\"Observation\",\"code\":{\"text\":\"1e9999\"},\"component\":[{\"code\":{\"text\":\"x\"},"
                + "\"valueQuantity\":{\"unit\":\"mg\",\"value\":" + value + "}}],\"status\":\"final\"}";
    }

    @Test
    void numbersThatFitPass() {
        for (String value : new String[] {"1", "-0.5", "1.5e3", "1E-999", "12345678901234567890",
                "1" + "0".repeat(999)}) {
            assertNull(find(observation(value)), value);
        }
    }

    @Test
    void numbersThatWouldExpandPastTheLimitAreNamedWithTheirElement() {
        for (String value : new String[] {"1e1000", "1e+1000", "-1.25E-1000", "1e999999", "1e99999999999999999999",
                "1" + "0".repeat(1000)}) {
            String problem = find(observation(value));
            assertNotNull(problem, value);
            assertTrue(problem.startsWith("Observation.component.valueQuantity.value: the number "), problem);
        }
    }

    @Test
    void stringsAndKeysThatLookLikeNumbersAreNotNumbers() {
        assertNull(find("{\"resourceType\":\"Basic\",\"text\":{\"div\":\"1e99999 \\\" 1e99999\"}}"));
        assertNull(find("[\"1e99999\", {\"a\\\"b\":\"9e9999\"}]"));
    }

    @Test
    void bundleEntriesAreNamedThroughTheBundle() {
        String bundle = "{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":" + observation("1e5000") + "}]}";
        assertTrue(find(bundle).startsWith("Bundle.entry.resource.component.valueQuantity.value:"), find(bundle));
    }
}
