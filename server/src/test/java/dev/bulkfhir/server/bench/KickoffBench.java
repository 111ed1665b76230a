package dev.bulkfhir.server.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The export's doors under many clients at once, with an access token: CLIENTS threads each make
 * ROUNDS kickoffs ({@code $export?_type=Patient}, each cancelled at once), one a second, then each
 * starts one export, waits for it, and polls its status ROUNDS times, ten a second (ten times the
 * Retry-After pace of a young export). Each client starts at a random offset, so the figures are
 * the time each request takes with CLIENTS clients at work, not how long a request queues behind
 * the others of a closed loop (which, on the same cores as the server, measures the load generator). Prints one line each for kickoff and poll.
 * The server needs export limits above CLIENTS (--export-max-jobs, --export-max-jobs-per-client).
 * Usage: KickoffBench BASE_URL TOKEN CLIENTS ROUNDS
 */
public final class KickoffBench {

    static final long KICKOFF_PACE_MILLIS = 1000;
    static final long POLL_PACE_MILLIS = 100;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    public static void main(String[] args) throws Exception {
        String base = args[0];
        String token = args[1];
        int clients = Integer.parseInt(args[2]);
        int rounds = Integer.parseInt(args[3]);
        String kickoff = base + "/$export?_type=Patient";

        Latencies warmUp = new Latencies();
        everyClient(clients, () -> kickoffs(kickoff, token, Math.max(1, rounds / 10), warmUp));
        Latencies kickoffs = new Latencies();
        long start = System.nanoTime();
        everyClient(clients, () -> kickoffs(kickoff, token, rounds, kickoffs));
        System.out.println(kickoffs.summary("kickoff", clients, (System.nanoTime() - start) / 1e9));

        Latencies polls = new Latencies();
        List<Long> pollTime = new ArrayList<>();
        everyClient(clients, () -> {
            String status = accepted(send("GET", kickoff, token)).headers().firstValue("Content-Location").orElseThrow();
            while (send("GET", status, token).statusCode() == 202) {
                Thread.sleep(1000); // the Retry-After of a young export
            }
            long started = System.nanoTime();
            for (int i = 0; i < rounds; i++) {
                pace(started, i, POLL_PACE_MILLIS);
                long sent = System.nanoTime();
                HttpResponse<String> manifest = send("GET", status, token);
                polls.add(sent);
                if (manifest.statusCode() != 200) {
                    throw new IllegalStateException("poll: " + manifest.statusCode() + " " + manifest.body());
                }
            }
            synchronized (pollTime) {
                pollTime.add(System.nanoTime() - started);
            }
            send("DELETE", status, token);
            return null;
        });
        double pollSeconds = pollTime.stream().mapToLong(Long::longValue).max().orElse(0) / 1e9;
        System.out.println(polls.summary("poll", clients, pollSeconds));
    }

    private static Void kickoffs(String kickoff, String token, int rounds, Latencies latencies) throws Exception {
        long started = System.nanoTime();
        for (int i = 0; i < rounds; i++) {
            pace(started, i, KICKOFF_PACE_MILLIS);
            long sent = System.nanoTime();
            HttpResponse<String> response = accepted(send("GET", kickoff, token));
            latencies.add(sent);
            send("DELETE", response.headers().firstValue("Content-Location").orElseThrow(), token);
        }
        return null;
    }

    /** Sleeps until the {@code i}th tick of this client (a random offset, then every {@code millis}). */
    private static void pace(long started, int i, long millis) throws InterruptedException {
        long offset = ThreadLocalRandom.current().nextLong(millis);
        long due = started + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(i == 0 ? offset : i * millis);
        long wait = due - System.nanoTime();
        if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        }
    }

    private static HttpResponse<String> accepted(HttpResponse<String> response) {
        if (response.statusCode() != 202) {
            throw new IllegalStateException("kickoff: " + response.statusCode() + " " + response.body());
        }
        return response;
    }

    private static void everyClient(int clients, Callable<Void> work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<Void>> done = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            done.add(pool.submit(work));
        }
        for (Future<Void> future : done) {
            future.get();
        }
        pool.shutdown();
    }

    private static HttpResponse<String> send(String method, String url, String token) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).method(method, HttpRequest.BodyPublishers.noBody())
                .header("Accept", "application/fhir+json").header("Prefer", "respond-async")
                .header("Authorization", "Bearer " + token).build();
        return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    }
}
