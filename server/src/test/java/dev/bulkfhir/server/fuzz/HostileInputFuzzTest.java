package dev.bulkfhir.server.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SigningKeys;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.AuthSettings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile input, generated from a seed: the {@code $export} kickoff (system, Patient, Group; GET
 * parameters and POST Parameters), searches on a few types, the {@code Range} header on Binary reads
 * and export-file downloads, and the token endpoint's form. Values carry NUL and control characters,
 * huge and negative numbers, empty values, repeated parameters, unicode, percent-garbage, very long
 * values, odd dates, and {@code ? & , =} inside values. Whatever comes, the server must answer: no
 * 5xx, every 4xx with an OperationOutcome (the token endpoint: an RFC 6749 JSON error), and no hang.
 *
 * <p>Each area runs for a few seconds or a number of requests, whichever ends first. The seed is
 * printed on failure; {@code -Dfuzz.seed=N} repeats a run, {@code -Dfuzz.seconds=N} runs each area
 * longer. Requests go over a raw socket, so that what is sent is exactly what was generated.
 *
 * <p>What it found, each fixed with a focused test beside it: percent-garbage in a query string or
 * form body ({@code ?_since=%}, {@code ?patient=%zz}: 500 "URLDecoder: ..."), an {@code Accept: ;}
 * on a kickoff (500 from an empty header split), a form with an unknown charset.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputFuzzTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long SEED = Long.getLong("fuzz.seed", System.nanoTime());
    private static final Duration AREA_TIME = Duration.ofSeconds(Long.getLong("fuzz.seconds", 10));
    private static final int AREA_REQUESTS = 400;
    private static final int TIMEOUT_MILLIS = 15_000;

    @TempDir
    static Path dataDir;
    private StandaloneServer server;
    private String host;
    private int port;
    private String basePath;
    private String token;
    private String binaryId;
    private String exportFileId;

    @BeforeAll
    void start() throws Exception {
        JWK key = SigningKeys.generate(JWSAlgorithm.ES384);
        Map<String, Object> client = new LinkedHashMap<>();
        client.put("client_id", "fuzzer");
        client.put("scope", "system/*.*");
        client.put("jwks", Map.of("keys", List.of(key.toPublicJWK().toJSONObject())));
        ClientRegistry.register(dataDir.resolve("clients.json"), client);
        server = new StandaloneServer(ServerSettings.builder(dataDir)
                .auth(AuthSettings.on(dataDir.resolve("clients.json"))).build()).start();
        URI base = URI.create(server.baseUrl());
        host = base.getHost();
        port = base.getPort();
        basePath = base.getPath();

        String tokenUrl = server.baseUrl() + "/auth/token";
        Response granted = send("POST", basePath + "/auth/token", form(Map.of(
                "grant_type", "client_credentials",
                "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion", SigningKeys.clientAssertion(key, "fuzzer", tokenUrl),
                "scope", "system/*.*")), "Content-Type", "application/x-www-form-urlencoded");
        assertEquals(200, granted.status, granted.text());
        token = JSON.readTree(granted.body).get("access_token").asText();

        assertEquals(201, send("PUT", basePath + "/Patient/fz-1", json("{\"resourceType\":\"Patient\",\"id\":\"fz-1\"}"),
                "Content-Type", "application/fhir+json").status);
        assertEquals(201, send("PUT", basePath + "/Group/fz-group", json("{\"resourceType\":\"Group\",\"id\":\"fz-group\","
                + "\"type\":\"person\",\"actual\":true,\"member\":[{\"entity\":{\"reference\":\"Patient/fz-1\"}}]}"),
                "Content-Type", "application/fhir+json").status);
        byte[] pdf = new byte[4096];
        new Random(1).nextBytes(pdf);
        Response created = send("POST", basePath + "/Binary", pdf, "Content-Type", "application/pdf");
        assertEquals(201, created.status, created.text());
        binaryId = created.header("Location").replaceAll(".*/Binary/([^/]+)/_history/.*", "$1");

        Response kickoff = send("GET", basePath + "/$export?_type=Patient", null, "Prefer", "respond-async");
        assertEquals(202, kickoff.status, kickoff.text());
        String status = URI.create(kickoff.header("Content-Location")).getRawPath() + "?"
                + URI.create(kickoff.header("Content-Location")).getRawQuery();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Response poll;
        while ((poll = send("GET", status, null)).status == 202 && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertEquals(200, poll.status, poll.text());
        String url = JSON.readTree(poll.body).get("output").get(0).get("url").asText();
        exportFileId = url.substring(url.lastIndexOf('/') + 1);
    }

    @AfterAll
    void stop() throws Exception {
        if (server != null) server.close();
    }

    // ------------------------------------------------------------------ the areas

    @Test
    void kickoffParametersByGet() throws Exception {
        Random random = random(1);
        fuzz("kickoff GET", random, () -> {
            String query = query(random, KICKOFF_PARAMETERS);
            return new Request("GET", kickoffPath(random) + (query.isEmpty() ? "" : "?" + query), null,
                    kickoffHeaders(random));
        });
    }

    @Test
    void kickoffParametersByPost() throws Exception {
        Random random = random(2);
        fuzz("kickoff POST", random, () -> {
            List<String> headers = new ArrayList<>(kickoffHeaders(random));
            headers.addAll(List.of("Content-Type", random.nextInt(8) == 0 ? hostileHeader(random) : "application/fhir+json"));
            return new Request("POST", kickoffPath(random), parametersBody(random), headers);
        });
    }

    @Test
    void searchParameters() throws Exception {
        Random random = random(3);
        List<String> types = List.of("Patient", "Observation", "Group", "Binary", "Condition");
        fuzz("search", random, () -> {
            String query = query(random, SEARCH_PARAMETERS);
            return new Request("GET", basePath + "/" + pick(random, types) + (query.isEmpty() ? "" : "?" + query),
                    null, List.of("Accept", "application/fhir+json"));
        });
    }

    @Test
    void rangeOnBinaryAndExportFiles() throws Exception {
        Random random = random(4);
        fuzz("Range", random, () -> {
            String path = switch (random.nextInt(4)) {
                case 0 -> "/Binary/" + binaryId;
                case 1 -> "/Binary/" + binaryId + "/$binary-access-read";
                case 2 -> "/Binary/" + exportFileId;
                default -> "/Binary/" + exportFileId + "/$export-download";
            };
            List<String> headers = new ArrayList<>(List.of("Range", range(random)));
            if (random.nextInt(4) == 0) headers.addAll(List.of("Range", range(random)));
            if (random.nextInt(4) == 0) headers.addAll(List.of("If-Range", hostileHeader(random)));
            return new Request(random.nextInt(5) == 0 ? "HEAD" : "GET", basePath + path, null, headers);
        });
    }

    @Test
    void tokenEndpointForm() throws Exception {
        Random random = random(5);
        List<String> names = List.of("grant_type", "client_assertion_type", "client_assertion", "scope", "client_id",
                "", "=", "grant_type[]");
        fuzz("token form", random, () -> {
            StringBuilder body = new StringBuilder();
            int fields = random.nextInt(7);
            for (int i = 0; i < fields; i++) {
                if (i > 0) body.append(random.nextInt(10) == 0 ? "&&" : "&");
                body.append(encodeOrNot(random, pick(random, names))).append('=');
                body.append(encodeOrNot(random, random.nextInt(3) == 0 ? plausibleToken(random) : hostile(random)));
            }
            String contentType = switch (random.nextInt(6)) {
                case 0 -> hostileHeader(random);
                case 1 -> "application/x-www-form-urlencoded; charset=" + hostileHeader(random);
                default -> "application/x-www-form-urlencoded";
            };
            return new Request("POST", basePath + "/auth/token", body.toString().getBytes(StandardCharsets.UTF_8),
                    List.of("Content-Type", contentType), false);
        });
    }

    // ------------------------------------------------------------------ the fuzz loop

    private record Request(String method, String target, byte[] body, List<String> headers, boolean withToken) {
        Request(String method, String target, byte[] body, List<String> headers) {
            this(method, target, body, headers, true);
        }

        String describe() {
            StringBuilder text = new StringBuilder(method).append(' ').append(shorten(target, 300));
            for (int i = 0; i < headers.size(); i += 2) {
                text.append("\n    ").append(headers.get(i)).append(": ").append(shorten(headers.get(i + 1), 200));
            }
            if (body != null) text.append("\n    body: ").append(shorten(new String(body, StandardCharsets.UTF_8), 300));
            return text.toString().replace("\0", "\\0");
        }
    }

    /** Sends generated requests for the area's time or count; fails listing each kind of bad answer once. */
    private void fuzz(String area, Random random, Supplier<Request> generator) throws Exception {
        long deadline = System.nanoTime() + AREA_TIME.toNanos();
        Map<String, String> failures = new LinkedHashMap<>();
        int sent = 0;
        while (sent < AREA_REQUESTS && System.nanoTime() < deadline) {
            Request request = generator.get();
            sent++;
            String problem;
            Response response = null;
            try {
                List<String> headers = new ArrayList<>(request.headers());
                if (request.withToken()) headers.addAll(List.of("Authorization", "Bearer " + token));
                response = send(request.method(), request.target(), request.body(), headers.toArray(String[]::new));
                problem = problem(area, request, response);
            } catch (SocketTimeoutException e) {
                problem = "no answer within " + TIMEOUT_MILLIS + " ms";
            } catch (IOException e) {
                problem = "connection failed: " + e;
            }
            if (problem != null) {
                String kind = problem.replaceAll("[0-9a-f]{8,}|\\d+", "#");
                kind = kind.substring(0, Math.min(140, kind.length()));
                failures.putIfAbsent(kind, problem + "\n  repro: " + request.describe());
            }
            if (response != null && response.status == 202 && response.header("Content-Location") != null) {
                URI status = URI.create(response.header("Content-Location"));
                send("DELETE", status.getRawPath() + "?" + status.getRawQuery(), null, "Authorization", "Bearer " + token);
            }
        }
        assertTrue(failures.isEmpty(), area + ": " + failures.size() + " kinds of bad answers in " + sent
                + " requests (seed " + SEED + ", -Dfuzz.seed=" + SEED + " repeats it):\n" + String.join("\n", failures.values()));
    }

    /** What is wrong with an answer, or null. */
    private static String problem(String area, Request request, Response response) {
        if (response.status >= 500) {
            return response.status + " " + shorten(response.text(), 300);
        }
        if (response.status >= 400 && !request.method().equals("HEAD")) {
            if (!area.equals("token form") && response.text().startsWith("<OperationOutcome")) {
                return null; // XML, for a client whose Accept admits no JSON
            }
            try {
                JsonNode body = JSON.readTree(response.body);
                if (area.equals("token form")) {
                    if (body == null || !body.path("error").isTextual()) {
                        return response.status + " without an RFC 6749 error: " + shorten(response.text(), 300);
                    }
                } else if (body == null || !body.path("resourceType").asText().equals("OperationOutcome")) {
                    return response.status + " without an OperationOutcome: " + shorten(response.text(), 300);
                }
            } catch (IOException e) {
                return response.status + " with a body that is not JSON: " + shorten(response.text(), 300);
            }
        }
        return null;
    }

    // ------------------------------------------------------------------ generators

    private static final List<String> KICKOFF_PARAMETERS = List.of("_outputFormat", "_since", "_type", "_elements",
            "patient", "_typeFilter", "includeAssociatedData", "_until", "_format", "_summary", "_count", "_pretty");
    private static final List<String> SEARCH_PARAMETERS = List.of("_id", "_lastUpdated", "patient", "subject", "_count",
            "_format", "_summary", "_elements", "_sort", "_total", "name", "_include", "_pretty", "_getpages",
            "_pageId", "_offset");
    private static final List<String> PLAUSIBLE = List.of("Patient", "Observation", "Patient,Observation",
            "application/fhir+ndjson", "ndjson", "2020-01-01T00:00:00Z", "2020-01-01", "Patient/fz-1", "fz-1", "10",
            "id", "Patient.id", "Observation?_lastUpdated=ge2020-01-01", "json", "count", "true", "latestProvenanceResources");

    private Random random(int area) {
        return new Random(SEED * 31 + area);
    }

    private String kickoffPath(Random random) {
        return basePath + switch (random.nextInt(5)) {
            case 0 -> "/$export";
            case 1 -> "/Patient/$export";
            case 2 -> "/Group/fz-group/$export";
            case 3 -> "/Group/" + encodeOrNot(random, hostile(random)) + "/$export";
            default -> "/$export";
        };
    }

    private static List<String> kickoffHeaders(Random random) {
        List<String> headers = new ArrayList<>();
        int accept = random.nextInt(6);
        if (accept > 0) headers.addAll(List.of("Accept", accept == 1 ? hostileHeader(random) : "application/fhir+json"));
        int prefer = random.nextInt(6);
        if (prefer > 0) headers.addAll(List.of("Prefer", prefer == 1 ? hostileHeader(random)
                : prefer == 2 ? "respond-async, handling=lenient" : "respond-async"));
        return headers;
    }

    /** name=value pairs, names from the list or garbage, values hostile or plausible, some repeated. */
    private static String query(Random random, List<String> names) {
        List<String> pairs = new ArrayList<>();
        int count = random.nextInt(5);
        for (int i = 0; i < count; i++) {
            String name = random.nextInt(8) == 0 ? hostile(random) : pick(random, names);
            String value = random.nextInt(3) == 0 ? pick(random, PLAUSIBLE) : hostile(random);
            int copies = random.nextInt(6) == 0 ? 2 + random.nextInt(3) : 1;
            for (int c = 0; c < copies; c++) {
                pairs.add(random.nextInt(12) == 0 ? encodeOrNot(random, name)
                        : encodeOrNot(random, name) + "=" + encodeOrNot(random, value));
            }
        }
        return String.join(random.nextInt(15) == 0 ? "&&" : "&", pairs);
    }

    /** A Parameters body with hostile values of several types, or a broken body. */
    private static byte[] parametersBody(Random random) {
        switch (random.nextInt(10)) {
            case 0 -> {
                return pick(random, List.of("", "{", "[]", "null", "{\"resourceType\":\"Patient\"}",
                        "{\"resourceType\":\"Parameters\",\"parameter\":{}}", "{\"resourceType\":\"Parameters\",\"parameter\":[1e1000]}",
                        "\0\0\0", "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"_type\",\"valueString\":\"Patient\"}]"
                )).getBytes(StandardCharsets.UTF_8);
            }
            case 1 -> {
                return hostile(random).getBytes(StandardCharsets.UTF_8);
            }
            default -> {
                ObjectNode parameters = JSON.createObjectNode().put("resourceType", "Parameters");
                ArrayNode list = parameters.putArray("parameter");
                int count = random.nextInt(5);
                for (int i = 0; i < count; i++) {
                    ObjectNode parameter = list.addObject();
                    parameter.put("name", random.nextInt(8) == 0 ? hostile(random) : pick(random, KICKOFF_PARAMETERS));
                    String value = random.nextInt(3) == 0 ? pick(random, PLAUSIBLE) : hostile(random);
                    switch (random.nextInt(8)) {
                        case 0 -> parameter.putObject("valueReference").put("reference", value);
                        case 1 -> parameter.put("valueInstant", value);
                        case 2 -> parameter.put("valueInteger", random.nextBoolean() ? -1 : Integer.MAX_VALUE);
                        case 3 -> parameter.put("valueBoolean", value);
                        case 4 -> parameter.putNull("valueString");
                        case 5 -> parameter.put("valueCode", value);
                        default -> parameter.put("valueString", value);
                    }
                }
                String text = parameters.toString();
                if (random.nextInt(10) == 0) text = text.replace("2147483647", "1e1000").replace("-1", "-9".repeat(40));
                return text.getBytes(StandardCharsets.UTF_8);
            }
        }
    }

    /** Range header values: plausible shapes with hostile parts. */
    private static String range(Random random) {
        if (random.nextInt(6) == 0) return hostileHeader(random);
        String unit = pick(random, List.of("bytes", "bytes", "bytes", "BYTES", "items", "", "bytes "));
        List<String> specs = new ArrayList<>();
        int count = random.nextInt(8) == 0 ? 2 + random.nextInt(50) : 1;
        for (int i = 0; i < count; i++) {
            specs.add(number(random) + pick(random, List.of("-", "-", "--", "", "=")) + number(random));
        }
        return unit + pick(random, List.of("=", "=", "", "==", ":")) + String.join(pick(random, List.of(",", ", ", ",,")), specs);
    }

    private static String number(Random random) {
        return pick(random, List.of("", "0", "1", "100", "4095", "4096", "4097", "-1", "-0", "00000000000000000000001",
                "9223372036854775807", "9223372036854775808", "99999999999999999999999999", "1e3", "0x10", " 5 ",
                "+5", "١٢", "5.5"));
    }

    /** A hostile value; may contain anything, including NUL and controls (encoded before it goes on the wire). */
    private static String hostile(Random random) {
        String value = switch (random.nextInt(12)) {
            case 0 -> pick(random, List.of("", " ", "\0", "a\0b", "Patient\0", "\u0001\u0002\u001f", "\r\n", "\t", "\u007f"));
            case 1 -> pick(random, List.of("-1", "-0", "0", "2147483648", "-2147483649", "9223372036854775808",
                    "99999999999999999999999999999999", "1e1000", "-1e1000", "1e-1000", "NaN", "Infinity", "0x7fffffff"));
            case 2 -> pick(random, List.of("Ωμέγα", "😀", "\u202eevil", "e\u0301", "\uFFFF", "\uD800", "中文", "\u0000\u00ff"));
            case 3 -> pick(random, List.of("%", "%zz", "%0", "%00", "%C0%AF", "%%%", "%u0041", "%ff%fe", "%2", "%E2%82"));
            case 4 -> "x".repeat(1 + random.nextInt(20_000));
            case 5 -> (pick(random, PLAUSIBLE) + ",").repeat(1 + random.nextInt(3000));
            case 6 -> pick(random, List.of("2024-13-45", "2024-02-30T25:61:61Z", "0000-00-00", "99999-01-01",
                    "2024-01-01T00:00:00+25:00", "yesterday", "2024", "2024-01", "2024-01-01T00:00:00.1234567891Z",
                    "-2024-01-01", "2024-01-01T00:00:00", "1970-01-01T00:00:00Z", "3000-01-01T00:00:00Z",
                    "+275760-09-13T00:00:00Z", "gt2024-01-01", "ge", "eq2024-01-01T00:00:00Z&_lastUpdated=lt"));
            case 7 -> pick(random, List.of("?", "&", ",", "=", ";", "#", "Patient?_id=a&b", "Observation?", "a,b,,c",
                    ",,,", "Patient?patient=Patient/fz-1&_lastUpdated=ge2020", "Observation?_count=-1", "?&?&", "/",
                    "../../etc/passwd", "Patient/", "Patient/../Group/fz-group"));
            case 8 -> pick(random, PLAUSIBLE) + pick(random, List.of("\0", "%00", ",", "?", "&", " ", "\u00e9"));
            case 9 -> pick(random, List.of("Foo", "patient", "PATIENT", "Binary", "Parameters", "Bundle", "Resource",
                    "DomainResource", "OperationOutcome", "*", "Patient,Foo"));
            case 10 -> hostile(random) + hostile(random);
            default -> pick(random, PLAUSIBLE);
        };
        return value.length() > 60_000 ? value.substring(0, 60_000) : value;
    }

    /** A hostile value that can be sent as a header value (no CR, LF or other controls). */
    private static String hostileHeader(Random random) {
        String value = hostile(random).replaceAll("[\\x00-\\x08\\x0a-\\x1f\\x7f]", "");
        return value.length() > 4000 ? value.substring(0, 4000) : value;
    }

    private static String plausibleToken(Random random) {
        return pick(random, List.of("client_credentials", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "system/*.*", "system/Patient.read", "eyJhbGciOiJub25lIn0.e30.", "a.b.c", "fuzzer", "authorization_code"));
    }

    /** Percent-encoded as a form would (most of the time), or sent as it is where HTTP allows that. */
    private static String encodeOrNot(Random random, String text) {
        if (random.nextInt(4) != 0 || text.chars().anyMatch(c -> c <= 0x20 || c >= 0x7f || c == '#')) {
            return URLEncoder.encode(text, StandardCharsets.UTF_8);
        }
        return text; // raw: percent-garbage, '?', '&', ',' and '=' as they are
    }

    private static String pick(Random random, List<String> values) {
        return values.get(random.nextInt(values.size()));
    }

    // ------------------------------------------------------------------ raw HTTP

    private record Response(int status, Map<String, String> headers, byte[] body) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private Response send(String method, String target, byte[] body, String... headers) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), TIMEOUT_MILLIS);
            socket.setSoTimeout(TIMEOUT_MILLIS);
            ByteArrayOutputStream request = new ByteArrayOutputStream();
            request.writeBytes((method + " " + target + " HTTP/1.1\r\nHost: " + host + ":" + port
                    + "\r\nConnection: close\r\n").getBytes(StandardCharsets.UTF_8));
            boolean auth = false;
            for (int i = 0; i < headers.length; i += 2) {
                auth |= headers[i].equals("Authorization");
                request.writeBytes((headers[i] + ": " + headers[i + 1] + "\r\n").getBytes(StandardCharsets.UTF_8));
            }
            if (!auth && token != null && !target.endsWith("/auth/token")) {
                request.writeBytes(("Authorization: Bearer " + token + "\r\n").getBytes(StandardCharsets.UTF_8));
            }
            if (body != null) {
                request.writeBytes(("Content-Length: " + body.length + "\r\n").getBytes(StandardCharsets.UTF_8));
            }
            request.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
            if (body != null) request.writeBytes(body);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(request.toByteArray());
                out.flush();
            } catch (IOException e) {
                // The server may answer and close before it has read all (a URI too long): read that answer.
            }
            return read(socket.getInputStream(), method.equals("HEAD"));
        }
    }

    private static Response read(InputStream in, boolean head) throws IOException {
        String statusLine = line(in);
        if (statusLine == null || !statusLine.startsWith("HTTP/1.1 ")) {
            throw new IOException("not an HTTP answer: " + statusLine);
        }
        int status = Integer.parseInt(statusLine.substring(9, 12));
        Map<String, String> headers = new LinkedHashMap<>();
        String line;
        while ((line = line(in)) != null && !line.isEmpty()) {
            int colon = line.indexOf(':');
            if (colon > 0) headers.putIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT),
                    line.substring(colon + 1).trim());
        }
        byte[] body;
        if (head || status == 204 || status == 304) {
            body = new byte[0];
        } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            while (true) {
                String size = line(in);
                if (size == null) break;
                int length = Integer.parseInt(size.split(";")[0].trim(), 16);
                if (length == 0) break;
                all.writeBytes(in.readNBytes(length));
                line(in);
            }
            body = all.toByteArray();
        } else if (headers.containsKey("content-length")) {
            body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
        } else {
            body = in.readAllBytes();
        }
        return new Response(status, headers, body);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1 && b != '\n') {
            if (b != '\r') line.write(b);
        }
        return b == -1 && line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
    }

    private static byte[] json(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] form(Map<String, String> fields) {
        StringBuilder body = new StringBuilder();
        fields.forEach((name, value) -> body.append(body.length() == 0 ? "" : "&")
                .append(URLEncoder.encode(name, StandardCharsets.UTF_8)).append('=')
                .append(URLEncoder.encode(value, StandardCharsets.UTF_8)));
        return body.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String shorten(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max) + "...(" + text.length() + " chars)";
    }
}
