package dev.bulkfhir.server.auth;

import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SigningKeys;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A real server with auth on and three registered clients, each with a real key pair:
 * {@code admin} (ES384, system/*.*), {@code reader} (RS384, system/*.read) and {@code narrow}
 * (RS384, system/Patient.read system/Observation.rs).
 */
final class AuthFixture implements AutoCloseable {

    static final HttpClient http = HttpClient.newHttpClient();

    final Path dataDir;
    final Path clientsFile;
    final Map<String, JWK> keys = new LinkedHashMap<>();
    final StandaloneServer server;

    private AuthFixture(Path dataDir, Duration tokenLifetime, boolean registerClients) throws Exception {
        this.dataDir = dataDir;
        this.clientsFile = dataDir.resolve("clients.json");
        if (registerClients) {
            register("admin", JWSAlgorithm.ES384, "system/*.*");
            register("reader", JWSAlgorithm.RS384, "system/*.read");
            register("narrow", JWSAlgorithm.RS384, "system/Patient.read system/Observation.rs");
        }
        server = new StandaloneServer(ServerSettings.defaults(dataDir)
                .withAuth(new AuthSettings(true, clientsFile, tokenLifetime, null))).start();
    }

    static AuthFixture start(Path dataDir) throws Exception {
        return new AuthFixture(dataDir, AuthSettings.DEFAULT_TOKEN_LIFETIME, true);
    }

    static AuthFixture start(Path dataDir, Duration tokenLifetime) throws Exception {
        return new AuthFixture(dataDir, tokenLifetime, true);
    }

    /** The same data directory again, clients and signing key as they are. */
    static AuthFixture startAgain(Path dataDir) throws Exception {
        return new AuthFixture(dataDir, AuthSettings.DEFAULT_TOKEN_LIFETIME, false);
    }

    JWK register(String clientId, JWSAlgorithm algorithm, String scope) throws Exception {
        Files.createDirectories(dataDir);
        JWK key = SigningKeys.generate(algorithm);
        keys.put(clientId, key);
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("client_id", clientId);
        entry.put("scope", scope);
        entry.put("jwks", Map.of("keys", List.of(key.toPublicJWK().toJSONObject())));
        ClientRegistry.register(clientsFile, entry);
        return key;
    }

    String base() {
        return server.baseUrl();
    }

    String tokenUrl() {
        return server.baseUrl() + "/auth/token";
    }

    /** Claims of a good assertion for {@code clientId}. */
    JWTClaimsSet.Builder claims(String clientId) {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder().issuer(clientId).subject(clientId).audience(tokenUrl())
                .issueTime(Date.from(now)).expirationTime(Date.from(now.plusSeconds(120)))
                .jwtID(UUID.randomUUID().toString());
    }

    static String sign(JWK key, String kid, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(SigningKeys.algorithm(key)).type(JOSEObjectType.JWT)
                .keyID(kid).build(), claims);
        jwt.sign(SigningKeys.signer(key));
        return jwt.serialize();
    }

    String assertion(String clientId) throws Exception {
        JWK key = keys.get(clientId);
        return sign(key, key.getKeyID(), claims(clientId).build());
    }

    static Map<String, String> form(String assertion, String scope) {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", "client_credentials");
        form.put("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        form.put("client_assertion", assertion);
        form.put("scope", scope);
        return form;
    }

    HttpResponse<String> post(Map<String, String> form) throws Exception {
        String body = form.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                        + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        return http.send(HttpRequest.newBuilder(URI.create(tokenUrl()))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A token for a registered client, asserting the endpoint granted it. */
    String token(String clientId, String scope) throws Exception {
        HttpResponse<String> response = post(form(assertion(clientId), scope));
        assertEquals(200, response.statusCode(), response.body());
        return (String) json(response).get("access_token");
    }

    HttpResponse<String> get(String path, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path)).GET();
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> send(String method, String path, String token, String contentType, String body)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    static Map<String, Object> json(HttpResponse<String> response) throws Exception {
        return JSONObjectUtils.parse(response.body());
    }

    @Override
    public void close() throws Exception {
        server.close();
    }
}
