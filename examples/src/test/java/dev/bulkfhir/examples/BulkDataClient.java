package dev.bulkfhir.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SigningKeys;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What a SMART Backend Services bulk-data client does, over plain HTTP: register itself in the
 * clients file, get a token from {@code [base]/auth/token}, kick off, poll, download.
 */
public final class BulkDataClient {

    public static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();
    private final String base;
    private String token;

    public BulkDataClient(String base) {
        this.base = base;
    }

    /** Registers a new client with an ES384 key in {@code clientsFile} and gets a token for {@code scope}. */
    public BulkDataClient authorize(Path clientsFile, String clientId, String scope) throws Exception {
        JWK key = SigningKeys.generate(JWSAlgorithm.ES384);
        ClientRegistry.register(clientsFile, Map.of("client_id", clientId, "scope", scope,
                "jwks", Map.of("keys", List.of(key.toPublicJWK().toJSONObject()))));
        String tokenUrl = base + "/auth/token";
        String form = "grant_type=client_credentials&scope=" + encode(scope)
                + "&client_assertion_type=" + encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                + "&client_assertion=" + encode(SigningKeys.clientAssertion(key, clientId, tokenUrl));
        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(tokenUrl))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, answer.statusCode(), answer.body());
        token = JSON.readTree(answer.body()).get("access_token").asText();
        return this;
    }

    public HttpResponse<byte[]> get(String url, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url.startsWith("http") ? url : base + url));
        if (token != null) request.header("Authorization", "Bearer " + token);
        if (headers.length > 0) request.headers(headers);
        return http.send(request.GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** @param headers more request headers, as name, value, name, value... */
    public HttpResponse<String> send(String method, String path, String contentType, byte[] body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", contentType)
                .method(method, HttpRequest.BodyPublishers.ofByteArray(body));
        if (token != null) request.header("Authorization", "Bearer " + token);
        if (headers.length > 0) request.headers(headers);
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Kicks off an export ({@code path} such as {@code /$export?_type=Patient}) and returns the status URL. */
    public String kickoff(String path) throws IOException, InterruptedException {
        HttpResponse<byte[]> answer = get(path, "Accept", "application/fhir+json", "Prefer", "respond-async");
        assertEquals(202, answer.statusCode(), new String(answer.body(), StandardCharsets.UTF_8));
        return answer.headers().firstValue("Content-Location").orElseThrow();
    }

    /** Polls the status URL until the manifest comes (at most a minute). */
    public JsonNode awaitManifest(String statusUrl) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<byte[]> status = get(statusUrl);
            if (status.statusCode() == 200) {
                return JSON.readTree(status.body());
            }
            assertEquals(202, status.statusCode(), new String(status.body(), StandardCharsets.UTF_8));
            Thread.sleep(100);
        }
        return fail("The export did not finish within a minute: " + statusUrl);
    }

    public String text(HttpResponse<byte[]> response) {
        return new String(response.body(), StandardCharsets.UTF_8);
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
