package dev.bulkfhir.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SigningKeys;
import dev.bulkfhir.server.ServerProcess;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Several standalone servers (JVMs of their own) on one database and one shared data directory, as
 * behind a load balancer: every node is configured with the same public base URL, and a client's
 * requests go to whichever node it chooses ({@link #on}). For ClusterTest and the cluster benchmark.
 */
public final class Cluster implements AutoCloseable {

    /** The URL clients know the cluster by (a load balancer's); links and token audience name it. */
    public static final String PUBLIC_BASE = "http://bulk-fhir.example/fhir";
    public static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();
    public static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern NODE_ID = Pattern.compile("Export engine started: node (\\S+),");

    /** One server process: its own address, and its name in the job table's leases. */
    public record Node(String name, ServerProcess server, String url, String leaseName, Path log) {
        public long pid() {
            return server.process().pid();
        }
    }

    private final String jdbcUrl;
    private final String jdbcUser;
    private final Path dataDir;
    private final List<String> options;
    private final Map<String, JWK> clientKeys = new HashMap<>();
    public final List<Node> nodes = new ArrayList<>();

    /**
     * @param options further server options for every node (e.g. a short {@code --export-lease})
     */
    public Cluster(String jdbcUrl, String jdbcUser, Path dataDir, List<String> options) {
        this.jdbcUrl = jdbcUrl;
        this.jdbcUser = jdbcUser;
        this.dataDir = dataDir;
        this.options = options;
    }

    public Path clientsFile() {
        return dataDir.resolve("clients.json");
    }

    /** Registers a client (an ES384 key) in the clients file every node reads. */
    public void register(String clientId) throws IOException {
        try {
            JWK key = SigningKeys.generate(JWSAlgorithm.ES384);
            clientKeys.put(clientId, key);
            ClientRegistry.register(clientsFile(), Map.of("client_id", clientId, "scope", "system/*.read",
                    "jwks", Map.of("keys", List.of(key.toPublicJWK().toJSONObject()))));
        } catch (com.nimbusds.jose.JOSEException e) {
            throw new IOException(e);
        }
    }

    /** Starts {@code count} nodes at once and returns when all serve. */
    public void start(int count) throws Exception {
        List<CompletableFuture<Node>> starting = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String name = String.valueOf((char) ('A' + nodes.size() + i));
            starting.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return startNode(name);
                } catch (Exception e) {
                    throw new IllegalStateException("node " + name + " did not start", e);
                }
            }));
        }
        for (CompletableFuture<Node> node : starting) nodes.add(node.join());
    }

    private Node startNode(String name) throws Exception {
        Path log = dataDir.resolveSibling("node-" + name + ".log");
        List<String> command = new ArrayList<>(ServerProcess.testLauncher());
        // Three JVMs start at once on a small machine: compiling less, and one GC thread, starts them sooner.
        command.addAll(1, List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
        command.addAll(List.of("--port", "0", "--data-dir", dataDir.toString(), "--jdbc-url", jdbcUrl,
                "--jdbc-user", jdbcUser, "--clients", clientsFile().toString(), "--base-url", PUBLIC_BASE));
        command.addAll(options);
        ServerProcess server = ServerProcess.start(command, log);
        Matcher id = NODE_ID.matcher(Files.readString(log));
        if (!id.find()) throw new IllegalStateException("node " + name + " did not log its lease name: " + log);
        return new Node(name, server, server.baseUrl(), id.group(1), log);
    }

    public Node node(String leaseName) {
        return nodes.stream().filter(node -> node.leaseName().equals(leaseName)).findFirst().orElse(null);
    }

    /** A URL of the cluster (a status or file URL from an answer) sent to one node. */
    public static String on(Node node, String publicUrl) {
        if (!publicUrl.startsWith(PUBLIC_BASE)) throw new IllegalArgumentException("not a cluster URL: " + publicUrl);
        return node.url() + publicUrl.substring(PUBLIC_BASE.length());
    }

    /** A new client assertion for the cluster's token endpoint (the same on every node). */
    public String assertion(String clientId) throws Exception {
        return SigningKeys.clientAssertion(clientKeys.get(clientId), clientId, PUBLIC_BASE + "/auth/token");
    }

    /** POSTs an assertion to one node's token endpoint. */
    public static HttpResponse<String> tokenRequest(Node node, String assertion) throws Exception {
        String form = "grant_type=client_credentials&scope=" + encode("system/*.read")
                + "&client_assertion_type=" + encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                + "&client_assertion=" + encode(assertion);
        return HTTP.send(HttpRequest.newBuilder(URI.create(node.url() + "/auth/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** An access token from {@code node}'s token endpoint. */
    public String token(Node node, String clientId) throws Exception {
        HttpResponse<String> response = tokenRequest(node, assertion(clientId));
        if (response.statusCode() != 200) throw new IllegalStateException("token: " + response.body());
        return JSON.readTree(response.body()).get("access_token").asText();
    }

    /** A request to one node with a token, as a Bulk Data client sends it. */
    public static HttpResponse<String> send(String method, String url, String token) throws Exception {
        return HTTP.send(request(method, url, token), HttpResponse.BodyHandlers.ofString());
    }

    public static HttpRequest request(String method, String url, String token) {
        return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(5))
                .header("Authorization", "Bearer " + token).header("Accept", "application/fhir+json")
                .header("Prefer", "respond-async").method(method, HttpRequest.BodyPublishers.noBody()).build();
    }

    /**
     * Polls the status URL on the nodes in turn (not minding which) until the export is no longer in
     * progress; returns the last answer.
     */
    public static HttpResponse<String> await(String statusUrl, String token, List<Node> on, Duration within)
            throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        for (int i = 0; ; i++) {
            HttpResponse<String> poll = send("GET", Cluster.on(on.get(i % on.size()), statusUrl), token);
            if (poll.statusCode() != 202 && poll.statusCode() != 429) return poll;
            if (System.nanoTime() > deadline) throw new AssertionError("still running after " + within);
            Thread.sleep(poll.statusCode() == 429 ? 1000 : 100);
        }
    }

    /**
     * Downloads every file of a manifest (file i from node i mod n) and returns the ids by type; fails
     * if a file's line count differs from its manifest count or an id comes twice.
     */
    public static Map<String, List<String>> download(JsonNode manifest, String token, List<Node> from) throws Exception {
        Map<String, List<String>> ids = new HashMap<>();
        int i = 0;
        for (JsonNode file : manifest.get("output")) {
            HttpResponse<String> body = HTTP.send(HttpRequest.newBuilder(URI.create(on(from.get(i++ % from.size()),
                    file.get("url").asText()))).header("Authorization", "Bearer " + token)
                    .header("Accept", "application/fhir+ndjson").build(), HttpResponse.BodyHandlers.ofString());
            if (body.statusCode() != 200) throw new AssertionError("download: " + body.statusCode() + " " + body.body());
            String[] lines = body.body().split("\n");
            if (lines.length != file.get("count").asLong()) {
                throw new AssertionError(file.get("url").asText() + ": " + lines.length + " lines, manifest count "
                        + file.get("count").asLong());
            }
            List<String> typeIds = ids.computeIfAbsent(file.get("type").asText(), t -> new ArrayList<>());
            for (String line : lines) typeIds.add(JSON.readTree(line).get("id").asText());
        }
        return ids;
    }

    /** SIGSTOP or SIGKILL, as an operator's kill does it. */
    public static void signal(Node node, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(node.pid())).inheritIO().start();
        if (kill.waitFor() != 0) throw new IllegalStateException("kill -" + signal + " failed");
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    /** kill -9 of every node still running. */
    @Override
    public void close() {
        for (Node node : nodes) {
            try {
                node.server().kill();
            } catch (InterruptedException | RuntimeException e) {
                // go on with the others
            }
        }
    }
}
