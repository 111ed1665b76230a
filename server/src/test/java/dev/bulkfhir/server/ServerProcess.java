package dev.bulkfhir.server;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The standalone server in a JVM of its own (auth off, a free port), for tests that kill or restart it. */
public record ServerProcess(Process process, String baseUrl) {

    private static final Pattern BASE_URL = Pattern.compile("serving FHIR R4 at (\\S+)");

    /** Starts {@code Main} with the test class path and returns once the banner names the base URL. */
    public static ServerProcess start(Path dataDir, String... extra) throws Exception {
        List<String> command = new ArrayList<>(List.of(
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
                return new ServerProcess(process, matcher.group(1));
            }
        }
        throw new AssertionError("server exited before serving:\n" + seen);
    }
}
