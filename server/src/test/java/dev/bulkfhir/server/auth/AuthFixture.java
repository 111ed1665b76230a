package dev.bulkfhir.server.auth;

import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SigningKeys;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.util.JSONArrayUtils;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.bulkfhir.server.AuthSettings;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.ops.OpsSettings;

import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.function.UnaryOperator;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A real server with auth on and three registered clients, each with a real key pair:
 * {@code admin} (ES384, system/*.*), {@code reader} (RS384, system/*.read) and {@code narrow}
 * (RS384, system/Patient.read system/Observation.rs).
 */
public final class AuthFixture implements AutoCloseable {

    static final HttpClient http = HttpClient.newHttpClient();

    final Path dataDir;
    final Path clientsFile;
    final Map<String, JWK> keys = new LinkedHashMap<>();
    public final StandaloneServer server;

    private AuthFixture(Path dataDir, Duration tokenLifetime, boolean registerClients) throws Exception {
        this(dataDir, tokenLifetime, registerClients, null);
    }

    private AuthFixture(Path dataDir, Duration tokenLifetime, boolean registerClients, String baseUrl)
            throws Exception {
        this(dataDir, tokenLifetime, registerClients, baseUrl, UnaryOperator.identity());
    }

    private AuthFixture(Path dataDir, Duration tokenLifetime, boolean registerClients, String baseUrl,
            UnaryOperator<ServerSettings.Builder> change) throws Exception {
        this.dataDir = dataDir;
        this.clientsFile = dataDir.resolve("clients.json");
        if (registerClients) {
            register("admin", JWSAlgorithm.ES384, "system/*.*");
            register("reader", JWSAlgorithm.RS384, "system/*.read");
            register("narrow", JWSAlgorithm.RS384, "system/Patient.read system/Observation.rs");
        }
        server = new StandaloneServer(change.apply(ServerSettings.builder(dataDir)
                .auth(AuthSettings.on(clientsFile).withTokenLifetime(tokenLifetime)).baseUrl(baseUrl)).build())
                .start();
    }

    /** With metrics, health and request log settings of the test's choice (for the ops tests). */
    public static AuthFixture start(Path dataDir, OpsSettings ops) throws Exception {
        return start(dataDir, settings -> settings.ops(ops));
    }

    static AuthFixture start(Path dataDir) throws Exception {
        return new AuthFixture(dataDir, AuthSettings.DEFAULT_TOKEN_LIFETIME, true);
    }

    static AuthFixture start(Path dataDir, Duration tokenLifetime) throws Exception {
        return new AuthFixture(dataDir, tokenLifetime, true);
    }

    /** With other settings as well (e.g. the file store). */
    public static AuthFixture start(Path dataDir, UnaryOperator<ServerSettings.Builder> change) throws Exception {
        return new AuthFixture(dataDir, AuthSettings.DEFAULT_TOKEN_LIFETIME, true, null, change);
    }

    /** Clients know the server by {@code baseUrl} (e.g. behind a proxy); tests still connect to it directly. */
    static AuthFixture startWithBaseUrl(Path dataDir, String baseUrl) throws Exception {
        return new AuthFixture(dataDir, AuthSettings.DEFAULT_TOKEN_LIFETIME, true, baseUrl);
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

    /** Removes a client from the clients file, as an administrator would. */
    void unregister(String clientId) throws Exception {
        editClients(entries -> entries.removeIf(entry -> clientId.equals(((Map<?, ?>) entry).get("client_id"))));
    }

    /** Changes the scope a client is registered for. */
    @SuppressWarnings("unchecked")
    void rescope(String clientId, String scope) throws Exception {
        editClients(entries -> entries.stream().map(entry -> (Map<String, Object>) entry)
                .filter(entry -> clientId.equals(entry.get("client_id")))
                .forEach(entry -> entry.put("scope", scope)));
    }

    /** Rewrites the clients file in one step (a reader never sees half of it). */
    @SuppressWarnings("unchecked")
    private void editClients(java.util.function.Consumer<List<Object>> edit) throws Exception {
        List<Object> entries = JSONArrayUtils.parse(Files.readString(clientsFile));
        edit.accept(entries);
        String text = entries.stream().map(entry -> JSONObjectUtils.toJSONString((Map<String, ?>) entry))
                .collect(Collectors.joining(",\n", "[\n", "\n]\n"));
        Path temporary = Files.createTempFile(dataDir, ".clients-", ".tmp");
        Files.writeString(temporary, text);
        Files.move(temporary, clientsFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Where the tests connect: the server's own address, whatever its public base URL. */
    public String base() {
        return server.listeningUrl();
    }

    /** The token endpoint's public URL, the audience of client assertions. */
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

    public String assertion(String clientId) throws Exception {
        JWK key = keys.get(clientId);
        return sign(key, key.getKeyID(), claims(clientId).build());
    }

    public static Map<String, String> form(String assertion, String scope) {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", "client_credentials");
        form.put("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        form.put("client_assertion", assertion);
        form.put("scope", scope);
        return form;
    }

    public HttpResponse<String> post(Map<String, String> form) throws Exception {
        String body = formBody(form);
        return http.send(HttpRequest.newBuilder(URI.create(base() + "/auth/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A token for a registered client, asserting the endpoint granted it. */
    public String token(String clientId, String scope) throws Exception {
        HttpResponse<String> response = post(form(assertion(clientId), scope));
        assertEquals(200, response.statusCode(), response.body());
        return (String) json(response).get("access_token");
    }

    public HttpResponse<String> get(String path, String token) throws Exception {
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

    static String formBody(Map<String, String> form) {
        return form.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                        + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
    }

    /** What a raw HTTP exchange answered. */
    record RawResponse(int status, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    /**
     * One request on a socket of its own, with a {@code Host} header of the test's choosing (which
     * java.net.http does not let a client set): what a hostile client or a misconfigured proxy sends.
     */
    RawResponse raw(String method, String path, String host, Map<String, String> headers, String body)
            throws Exception {
        byte[] content = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder(method + " /fhir" + path + " HTTP/1.1\r\nHost: " + host
                + "\r\nConnection: close\r\nContent-Length: " + content.length + "\r\n");
        headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
        head.append("\r\n");
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.write(content);
            out.flush();
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int split = response.indexOf("\r\n\r\n");
            String[] lines = response.substring(0, split).split("\r\n");
            Map<String, String> answered = new LinkedHashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                answered.putIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                        lines[i].substring(colon + 1).trim());
            }
            String rest = response.substring(split + 4);
            if ("chunked".equalsIgnoreCase(answered.get("transfer-encoding"))) {
                rest = dechunk(rest);
            }
            return new RawResponse(Integer.parseInt(lines[0].split(" ")[1]), answered, rest);
        }
    }

    private static String dechunk(String chunked) {
        StringBuilder body = new StringBuilder();
        int at = 0;
        while (true) {
            int end = chunked.indexOf("\r\n", at);
            int size = Integer.parseInt(chunked.substring(at, end).split(";")[0].trim(), 16);
            if (size == 0) {
                return body.toString();
            }
            body.append(chunked, end + 2, end + 2 + size); // our bodies are ASCII JSON: chars = bytes
            at = end + 2 + size + 2;
        }
    }

    static Map<String, Object> json(HttpResponse<String> response) throws Exception {
        return JSONObjectUtils.parse(response.body());
    }

    @Override
    public void close() throws Exception {
        server.close();
    }
}
