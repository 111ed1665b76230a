package dev.bulkfhir.server.binary;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A 200 MB Binary written and read natively with the server in its own JVM at {@code -Xmx256m}:
 * content as large as most of the heap only fits if it is streamed. The client streams too, and
 * compares SHA-256 digests instead of holding the content.
 */
@Tag("large")
class BinaryLargeProcessTest {

    private static final long SIZE = 200L * 1024 * 1024;
    private static final Pattern PORT = Pattern.compile("^\\s*port:\\s+(\\d+)\\s*$");

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void twoHundredMegabytesUpAndDownAtXmx256m(@TempDir Path dataDir) throws Exception {
        Path log = dataDir.resolve("server.log");
        Process server = start(dataDir.resolve("data"), log);
        try {
            String base = "http://127.0.0.1:" + readPort(server, log) + "/fhir";
            run(base, server);
        } catch (Throwable e) {
            throw new AssertionError("failed; server output:\n" + tail(log), e);
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private void run(String base, Process server) throws Exception {
        long started = System.nanoTime();
        Generated upload = new Generated(SIZE, 42);
        HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(base + "/Binary"))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.fromPublisher(
                        HttpRequest.BodyPublishers.ofInputStream(() -> upload), SIZE))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, created.statusCode(), created.body());
        String expected = upload.digest();
        String location = created.headers().firstValue("Location").orElseThrow();
        String id = location.replaceAll(".*/Binary/([^/]+)/_history/.*", "$1");
        long uploaded = System.nanoTime();

        Download whole = download(base + "/Binary/" + id, null, MessageDigest.getInstance("SHA-256"));
        assertEquals(200, whole.status());
        assertEquals(SIZE, whole.bytes());
        assertEquals(expected, HexFormat.of().formatHex(whole.digest().digest()));
        long downloaded = System.nanoTime();

        // A broken download resumes midway: the first half, then the rest by Range.
        long middle = SIZE / 2 + 12345;
        MessageDigest resumed = MessageDigest.getInstance("SHA-256");
        Download first = download(base + "/Binary/" + id + "/$binary-access-read", "bytes=0-" + (middle - 1), resumed);
        Download rest = download(base + "/Binary/" + id + "/$binary-access-read", "bytes=" + middle + "-", resumed);
        assertEquals(206, first.status());
        assertEquals(206, rest.status());
        assertEquals(SIZE, first.bytes() + rest.bytes());
        assertEquals(expected, HexFormat.of().formatHex(resumed.digest()));

        // Wrapped, it would not fit: the server says so instead of running out of memory.
        HttpResponse<String> wrapped = http.send(HttpRequest.newBuilder(URI.create(base + "/Binary/" + id
                + "?_format=json")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(406, wrapped.statusCode(), wrapped.body());

        assertTrue(server.isAlive(), "the server must survive");
        System.out.printf("200 MB: upload %.1f s, download %.1f s%n", (uploaded - started) / 1e9,
                (downloaded - uploaded) / 1e9);
    }

    private Process start(Path dataDir, Path log) throws IOException {
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+ExitOnOutOfMemoryError", "-cp", System.getProperty("java.class.path"),
                "dev.bulkfhir.server.cli.Main", "--port", "0", "--data-dir", dataDir.toString(), "--auth", "off");
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** The port from the banner's {@code port:} line. */
    private static int readPort(Process server, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (Files.exists(log)) {
                for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                    Matcher matcher = PORT.matcher(line);
                    if (matcher.matches()) {
                        return Integer.parseInt(matcher.group(1));
                    }
                }
            }
            if (!server.isAlive()) {
                break;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("server did not start");
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    record Download(int status, long bytes, MessageDigest digest) {}

    private Download download(String url, String range, MessageDigest digest) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url));
        if (range != null) {
            request.header("Range", range);
        }
        HttpResponse<InputStream> response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        long total = 0;
        try (InputStream body = response.body()) {
            byte[] buffer = new byte[256 * 1024];
            for (int read; (read = body.read(buffer)) >= 0; ) {
                digest.update(buffer, 0, read);
                total += read;
            }
        }
        return new Download(response.statusCode(), total, digest);
    }

    /** Pseudo-random bytes made on the fly (xorshift), digested as they go out. */
    static final class Generated extends InputStream {
        private final long size;
        private final MessageDigest digest;
        private long state;
        private long position;

        Generated(long size, long seed) throws Exception {
            this.size = size;
            this.state = seed | 1;
            this.digest = MessageDigest.getInstance("SHA-256");
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) {
            if (position >= size) {
                return -1;
            }
            int count = (int) Math.min(length, size - position);
            for (int i = 0; i < count; i++) {
                if (((position + i) & 7) == 0) {
                    state ^= state << 13;
                    state ^= state >>> 7;
                    state ^= state << 17;
                }
                buffer[offset + i] = (byte) (state >>> (((position + i) & 7) * 8));
            }
            digest.update(buffer, offset, count);
            position += count;
            return count;
        }

        String digest() {
            return HexFormat.of().formatHex(digest.digest());
        }
    }
}
