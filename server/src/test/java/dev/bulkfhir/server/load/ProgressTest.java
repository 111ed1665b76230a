package dev.bulkfhir.server.load;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressTest {

    @Test
    void aTerminalGetsABarWithRateAndTimeLeft() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (Progress progress = new Progress(out, true, 1000, () -> 250, () -> 1234, () -> 2)) {
            progress.start();
            Thread.sleep(1200);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        // A quarter of the bytes read: the bar a quarter full, three times the elapsed time left.
        assertTrue(text.contains("\r[======                  ]  25%  1,234 resources  "), text);
        assertTrue(text.matches("(?s).*/s  2 rejected  0:00:0\\d  ETA 0:00:0\\d.*"), text);
        assertTrue(text.endsWith("\r"), "the bar is wiped when the load ends: " + text);
    }
}
