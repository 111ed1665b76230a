package dev.bulkfhir.server.bench;

import com.nimbusds.jose.jwk.JWK;
import dev.bulkfhir.providers.auth.SigningKeys;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The token endpoint under load: REQUESTS client assertions, signed beforehand with the client's key
 * (each with its own jti), traded for access tokens by CLIENTS threads; prints one line with p50/p99.
 * Usage: TokenBench TOKEN_URL CLIENT_ID KEY_FILE CLIENTS REQUESTS
 */
public final class TokenBench {

    public static void main(String[] args) throws Exception {
        String tokenUrl = args[0];
        String clientId = args[1];
        JWK key = SigningKeys.readPrivate(Path.of(args[2]));
        int clients = Integer.parseInt(args[3]);
        int requests = Integer.parseInt(args[4]);
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < requests + clients * 20; i++) {
            bodies.add("grant_type=client_credentials&scope=" + encode("system/*.rs")
                    + "&client_assertion_type=" + encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                    + "&client_assertion=" + encode(SigningKeys.clientAssertion(key, clientId, tokenUrl)));
        }
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        run(http, tokenUrl, bodies.subList(0, clients * 20), clients, new Latencies()); // warm-up
        Latencies latencies = new Latencies();
        long start = System.nanoTime();
        run(http, tokenUrl, bodies.subList(clients * 20, bodies.size()), clients, latencies);
        System.out.println(latencies.summary("token", clients, (System.nanoTime() - start) / 1e9));
    }

    private static void run(HttpClient http, String tokenUrl, List<String> bodies, int clients, Latencies latencies)
            throws Exception {
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> done = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            done.add(pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < bodies.size(); ) {
                    HttpRequest request = HttpRequest.newBuilder(URI.create(tokenUrl))
                            .header("Content-Type", "application/x-www-form-urlencoded")
                            .POST(HttpRequest.BodyPublishers.ofString(bodies.get(i))).build();
                    long started = System.nanoTime();
                    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                    latencies.add(started);
                    if (response.statusCode() != 200) {
                        throw new IllegalStateException("token endpoint: " + response.statusCode() + " " + response.body());
                    }
                }
                return null;
            }));
        }
        for (Future<?> future : done) {
            future.get();
        }
        pool.shutdown();
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
