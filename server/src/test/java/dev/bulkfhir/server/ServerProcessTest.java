package dev.bulkfhir.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The standalone program as a user runs it: its own JVM, demo data, the banner, SIGTERM, and a
 * restart on the same data directory.
 */
class ServerProcessTest {

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void baseUrlFlagNamesThePublicBaseWhateverTheRequestSays(@TempDir Path dataDir) throws Exception {
        ServerProcess server = ServerProcess.start(dataDir, "--base-url", "https://fhir.example.test/r4/");
        try {
            HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/Patient"))
                    .header("Content-Type", "application/fhir+json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"resourceType\":\"Patient\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(201, created.statusCode(), created.body());
            String location = created.headers().firstValue("Location").orElseThrow();
            assertTrue(location.startsWith("https://fhir.example.test/r4/Patient/"), location);
        } finally {
            server.process().destroy();
            server.process().waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void aBaseUrlThatIsNoUrlStopsTheServerAtOnce(@TempDir Path dataDir) throws Exception {
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.bulkfhir.server.cli.Main", "--port", "0",
                "--data-dir", dataDir.toString(), "--base-url", "fhir.example.test/r4").redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, process.exitValue(), output);
        assertTrue(output.contains("--base-url: The base URL must be an absolute http(s) URL"), output);
    }

    @Test
    void demoServerAnswersStopsOnSigtermAndKeepsItsData(@TempDir Path dataDir) throws Exception {
        ServerProcess first = ServerProcess.start(dataDir, "--demo", "--demo-patients", "3");
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

        ServerProcess second = ServerProcess.start(dataDir);
        try {
            HttpResponse<String> patient = get(second.baseUrl() + "/Patient/demo-pat-000002");
            assertEquals(200, patient.statusCode(), patient.body());
        } finally {
            second.process().destroy();
            second.process().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
