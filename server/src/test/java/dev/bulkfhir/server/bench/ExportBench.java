package dev.bulkfhir.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;

/**
 * Drives the export benchmark against a running server: RUNS system exports end to end (kickoff to
 * manifest; all types, or those of the kickoff query PARAMS, e.g. {@code _type=Observation}), then
 * KICKOFFS kickoffs each cancelled at once, and prints one line per figure.
 * Usage: ExportBench BASE_URL RUNS KICKOFFS [PARAMS] [OPERATION], OPERATION being the kickoff path under
 * the base ({@code $export}, {@code Patient/$export}...).
 */
public final class ExportBench {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        String base = args[0];
        int runs = Integer.parseInt(args[1]);
        int kickoffs = Integer.parseInt(args[2]);
        String export = base + "/" + (args.length > 4 ? args[4] : "$export")
                + (args.length > 3 && !args[3].isEmpty() ? "?" + args[3] : "");
        for (int run = 1; run <= runs; run++) {
            long start = System.nanoTime();
            HttpResponse<String> accepted = send("GET", export);
            if (accepted.statusCode() != 202) throw new IllegalStateException("kickoff: " + accepted.body());
            String status = accepted.headers().firstValue("Content-Location").orElseThrow();
            HttpResponse<String> done;
            while ((done = send("GET", status)).statusCode() == 202) {
                // Often, to time the end closely, yet under the status URL's limit of 30 polls per Retry-After.
                long retryAfter = done.headers().firstValueAsLong("Retry-After").orElse(1);
                Thread.sleep(Math.max(50, retryAfter * 1000 / 25));
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            if (done.statusCode() != 200) throw new IllegalStateException("status: " + done.body());
            JsonNode manifest = JSON.readTree(done.body());
            long resources = 0;
            long bytes = 0;
            int files = 0;
            for (JsonNode file : manifest.get("output")) {
                resources += file.get("count").asLong();
                HttpResponse<String> head = send("HEAD", file.get("url").asText());
                bytes += head.headers().firstValueAsLong("Content-Length").orElse(0);
                files++;
            }
            System.out.printf("export %d: %d resources, %.1f MB in %d files, %.2f s = %.0f resources/s, %.1f MB/s%n",
                    run, resources, bytes / 1e6, files, seconds, resources / seconds, bytes / 1e6 / seconds);
            send("DELETE", status);
        }
        double[] millis = new double[kickoffs];
        for (int i = 0; i < kickoffs; i++) {
            long start = System.nanoTime();
            HttpResponse<String> accepted = send("GET", base + "/$export");
            millis[i] = (System.nanoTime() - start) / 1e6;
            if (accepted.statusCode() != 202) throw new IllegalStateException("kickoff " + i + ": " + accepted.body());
            send("DELETE", accepted.headers().firstValue("Content-Location").orElseThrow());
        }
        Arrays.sort(millis);
        if (kickoffs > 0) {
            System.out.printf("kickoff: %d kickoffs, time to 202 p50 %.1f ms, p99 %.1f ms, max %.1f ms%n", kickoffs,
                    millis[kickoffs / 2], millis[(int) Math.ceil(kickoffs * 0.99) - 1], millis[kickoffs - 1]);
        }
    }

    private static HttpResponse<String> send(String method, String url) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(5))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (!method.equals("HEAD")) {
            request.header("Accept", "application/fhir+json").header("Prefer", "respond-async");
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
