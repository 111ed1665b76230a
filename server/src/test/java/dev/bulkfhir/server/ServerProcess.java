package dev.bulkfhir.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The standalone server in a JVM of its own (a free port), for tests and benchmarks that kill or restart it. */
public record ServerProcess(Process process, String baseUrl) {

    private static final Pattern BASE_URL = Pattern.compile("serving FHIR R4 at (\\S+)");

    /** {@code Main} with the test class path, auth off; returns once the banner names the base URL. */
    public static ServerProcess start(Path dataDir, String... extra) throws Exception {
        List<String> command = new ArrayList<>(testLauncher());
        command.addAll(List.of("--port", "0", "--data-dir", dataDir.toString(), "--auth", "off"));
        command.addAll(List.of(extra));
        return start(command, null);
    }

    /** The command that runs {@code Main} from the test class path (server options follow it). */
    public static List<String> testLauncher() {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), "dev.bulkfhir.server.cli.Main");
    }

    /**
     * Runs {@code command} (a whole server command line, with {@code --port 0}) and returns once the
     * banner names the base URL; its output is appended to {@code log}, or dropped if that is null.
     */
    public static ServerProcess start(List<String> command, Path log) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        BufferedReader output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        Writer logWriter = log == null ? Writer.nullWriter() : Files.newBufferedWriter(log, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = output.readLine()) != null) {
            seen.append(line).append('\n');
            logWriter.write(line + "\n");
            Matcher matcher = BASE_URL.matcher(line);
            if (matcher.find()) {
                logWriter.flush();
                Thread drain = new Thread(() -> copy(output, logWriter));
                drain.setDaemon(true);
                drain.start();
                return new ServerProcess(process, matcher.group(1));
            }
        }
        logWriter.close();
        throw new AssertionError("server exited before serving:\n" + seen);
    }

    /** kill -9: no shutdown hook runs, leases and half-written files stay as they were. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the server survived kill -9");
        }
    }

    private static void copy(BufferedReader output, Writer log) {
        try (log) {
            String line;
            while ((line = output.readLine()) != null) {
                log.write(line + "\n");
                log.flush();
            }
        } catch (IOException e) {
            // the process is gone
        }
    }
}
