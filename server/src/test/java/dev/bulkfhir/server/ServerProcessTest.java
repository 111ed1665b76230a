package dev.bulkfhir.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The standalone program as a user runs it: its own JVM, demo data, the banner, SIGTERM, and a
 * restart on the same data directory.
 */
class ServerProcessTest {

    private static final Pattern BASE_URL = Pattern.compile("serving FHIR R4 at (\\S+)");
    private final HttpClient http = HttpClient.newHttpClient();

    record Running(Process process, String baseUrl) {}

    static Running start(Path dataDir, String... extra) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), "dev.bulkfhir.server.cli.Main",
                "--port", "0", "--data-dir", dataDir.toString(), "--auth", "off"));
        command.addAll(List.of(extra));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        BufferedReader output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = output.readLine()) != null) {
            seen.append(line).append('\n');
            Matcher matcher = BASE_URL.matcher(line);
            if (matcher.find()) {
                Thread drain = new Thread(() -> output.lines().forEach(l -> { }));
                drain.setDaemon(true);
                drain.start();
                return new Running(process, matcher.group(1));
            }
        }
        throw new AssertionError("server exited before serving:\n" + seen);
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void demoServerAnswersStopsOnSigtermAndKeepsItsData(@TempDir Path dataDir) throws Exception {
        Running first = start(dataDir, "--demo", "--demo-patients", "3");
        try {
            HttpResponse<String> metadata = get(first.baseUrl() + "/metadata");
            assertEquals(200, metadata.statusCode());
            assertTrue(metadata.body().contains("\"resourceType\":\"CapabilityStatement\""), metadata.body());
            HttpResponse<String> patients = get(first.baseUrl() + "/Patient");
            assertEquals(200, patients.statusCode());
            assertTrue(patients.body().contains("demo-pat-000003"), patients.body());
        } finally {
            first.process().destroy(); // SIGTERM
        }
        assertTrue(first.process().waitFor(30, TimeUnit.SECONDS), "server did not stop on SIGTERM");
        // 143 = 128 + SIGTERM: the JVM's exit status after running the shutdown hooks.
        assertEquals(143, first.process().exitValue());

        Running second = start(dataDir);
        try {
            HttpResponse<String> patient = get(second.baseUrl() + "/Patient/demo-pat-000002");
            assertEquals(200, patient.statusCode(), patient.body());
        } finally {
            second.process().destroy();
            second.process().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
