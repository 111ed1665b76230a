package dev.bulkfhir.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Time to the first downloadable file with {@code allowPartialManifests=true}: RUNS system exports,
 * each polled every 50 ms from its kickoff until a status answer (202 or 200) carries a manifest with
 * a file, which is then fetched (HEAD, 200); prints the time per run, and cancels the export.
 * Usage: PartialManifestBench BASE_URL RUNS.
 */
public final class PartialManifestBench {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        String base = args[0];
        int runs = Integer.parseInt(args[1]);
        for (int run = 1; run <= runs; run++) {
            long start = System.nanoTime();
            HttpResponse<String> accepted = send("GET", base + "/$export?allowPartialManifests=true");
            if (accepted.statusCode() != 202) throw new IllegalStateException("kickoff: " + accepted.body());
            String status = accepted.headers().firstValue("Content-Location").orElseThrow();
            String file = null;
            int polls = 0;
            while (file == null) {
                HttpResponse<String> poll = send("GET", status);
                polls++;
                if (poll.statusCode() == 429) {
                    Thread.sleep(poll.headers().firstValueAsLong("Retry-After").orElse(1) * 1000);
                    continue;
                }
                if (poll.statusCode() != 202 && poll.statusCode() != 200) {
                    throw new IllegalStateException("status " + poll.statusCode() + ": " + poll.body());
                }
                if (!poll.body().isEmpty()) {
                    JsonNode output = JSON.readTree(poll.body()).get("output");
                    if (output != null && !output.isEmpty()) file = output.get(0).get("url").asText();
                }
                if (file == null) Thread.sleep(50);
            }
            HttpResponse<String> head = send("HEAD", file);
            double millis = (System.nanoTime() - start) / 1e6;
            if (head.statusCode() != 200) throw new IllegalStateException("file " + file + ": " + head.statusCode());
            System.out.printf("partial-manifest %d: first file in a manifest and downloadable %.0f ms after the kickoff"
                    + " (%d polls)%n", run, millis, polls);
            send("DELETE", status);
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
