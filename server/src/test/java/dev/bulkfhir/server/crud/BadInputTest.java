package dev.bulkfhir.server.crud;

import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.Socket;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a client that sends something broken sees: a 4xx with an OperationOutcome that names the
 * problem, each header once, and a connection it can go on using (or is told to close).
 */
class BadInputTest {

    @TempDir
    static Path dataDir;

    static StandaloneServer server;
    /** Keeps connections alive between requests, as pooled clients do. */
    static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        server = new StandaloneServer(ServerSettings.defaults(dataDir)).start();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(server.baseUrl() + path));
    }

    static HttpRequest.Builder form(String path, String body) {
        return request(path).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    static void assertOutcome(HttpResponse<String> response, int status, String mentions) {
        assertEquals(status, response.statusCode(), response.body());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/fhir+json"),
                response.headers().map().toString());
        assertTrue(response.body().contains("\"resourceType\":\"OperationOutcome\""), response.body());
        assertTrue(response.body().contains(mentions), response.body());
    }

    /** A good request right after a bad one on the same pool must get a good answer. */
    static void assertStillServes() throws Exception {
        HttpResponse<String> response = send(request("/Patient?_count=1"));
        assertEquals(200, response.statusCode(), response.body());
    }

    static String fields(int count) {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < count; i++) {
            body.append(i == 0 ? "" : "&").append("f").append(i).append("=1");
        }
        return body.toString();
    }

    @Test
    void formsTheParserRejectsAre4xxAndTheConnectionStaysUsable() throws Exception {
        String overFormLimit = "a=" + "x".repeat(1024 * 1024);
        String overBodyLimit = "a=" + "x".repeat(10 * 1024 * 1024);
        record Case(String path, String body, int status, String mentions) {}
        List<Case> cases = List.of(
                new Case("/Patient/_search", "%%%zz", 400, "form"),
                new Case("/$export", "%%%zz", 400, "form"),
                new Case("/Patient/_search", fields(20_000), 413, "form"),
                new Case("/Patient/_search", overFormLimit, 413, "form"),
                new Case("/Patient/_search", overBodyLimit, 413, "--max-request-body"));
        for (int round = 0; round < 2; round++) {
            for (Case bad : cases) {
                assertOutcome(send(form(bad.path, bad.body)), bad.status, bad.mentions);
                assertStillServes();
            }
        }
        // A form that parses still searches.
        HttpResponse<String> search = send(form("/Patient/_search", "_count=1"));
        assertEquals(200, search.statusCode(), search.body());
    }

    @Test
    void queryStringsWithMalformedPercentEscapesAre400() throws Exception {
        // java.net.URI refuses such URLs, so they go over a socket exactly as written.
        for (String target : List.of("/Patient?_id=%zz", "/Observation?patient=%", "/$export?_since=%0",
                "/Patient?name=%E0%A4%A")) {
            URI base = URI.create(server.baseUrl());
            try (Socket socket = new Socket(base.getHost(), base.getPort())) {
                socket.setSoTimeout(10_000);
                socket.getOutputStream().write(("GET " + base.getPath() + target + " HTTP/1.1\r\nHost: "
                        + base.getAuthority() + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(answer.startsWith("HTTP/1.1 400"), target + "\n" + answer);
                assertTrue(answer.contains("OperationOutcome") && answer.contains("percent-escape"), answer);
            }
        }
        assertStillServes();
    }

    @Test
    void headersAppearOnceOnErrors() throws Exception {
        for (HttpResponse<String> response : List.of(send(request("/Patient/nobody-here")),
                send(request("/Patient?_count=-1")), send(request("/Spaceship/1")))) {
            assertTrue(response.statusCode() >= 400 && response.statusCode() < 500, response.body());
            for (String header : List.of("Date", "Server")) {
                assertTrue(response.headers().allValues(header).size() <= 1,
                        header + " " + response.headers().allValues(header));
            }
            assertEquals(1, response.headers().allValues("Date").size(), response.headers().map().toString());
        }
    }

    @Test
    void searchParametersWithInvalidValuesAreRefused() throws Exception {
        assertOutcome(send(request("/Patient?_count=-1")), 400, "_count");
        assertOutcome(send(request("/Patient?_count=abc")), 400, "_count");
        assertOutcome(send(request("/Patient?_summary=garbage")), 400, "_summary");
        HttpResponse<String> format = send(request("/Patient?_format=garbage"));
        assertTrue(format.statusCode() == 406 || format.statusCode() == 400, format.body());
        assertTrue(format.body().contains("_format"), format.body());
        for (String known : List.of("json", "xml", "application/fhir%2Bjson", "application/fhir%2Bxml", "text/xml")) {
            assertEquals(200, send(request("/Patient?_count=1&_summary=count&_format=" + known)).statusCode(), known);
        }
        assertEquals(200, send(request("/Patient?_count=0")).statusCode());
        // An empty parameter is ignored, as if absent.
        HttpResponse<String> empty = send(request("/Observation?patient="));
        assertEquals(200, empty.statusCode(), empty.body());
        assertStillServes();
    }

    static final String HUGE_NUMBER = "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
            + "\"valueQuantity\":{\"value\":1e1000}}";

    @Test
    void numbersThatWouldExpandAreRefusedOnCreateAndUpdate() throws Exception {
        HttpRequest.Builder create = request("/Observation").header("Content-Type", "application/fhir+json")
                .POST(HttpRequest.BodyPublishers.ofString(HUGE_NUMBER));
        assertOutcome(send(create), 400, "valueQuantity.value");
        HttpRequest.Builder update = request("/Observation/huge").header("Content-Type", "application/fhir+json")
                .PUT(HttpRequest.BodyPublishers.ofString(HUGE_NUMBER.replace("{\"resourceType\":\"Observation\",",
                        "{\"resourceType\":\"Observation\",\"id\":\"huge\",")));
        assertOutcome(send(update), 400, "valueQuantity.value");
        assertEquals(404, send(request("/Observation/huge")).statusCode());
        // XML reaches the same decimal.
        String xml = "<Observation xmlns=\"http://hl7.org/fhir\"><status value=\"final\"/><code><text value=\"x\"/>"
                + "</code><valueQuantity><value value=\"1e1000\"/></valueQuantity></Observation>";
        assertOutcome(send(request("/Observation").header("Content-Type", "application/fhir+xml")
                .header("Accept", "application/fhir+json").POST(HttpRequest.BodyPublishers.ofString(xml))),
                400, "valueQuantity.value");
        // A million-digit exponent is refused as fast.
        long started = System.nanoTime();
        assertOutcome(send(request("/Observation").header("Content-Type", "application/fhir+json")
                .POST(HttpRequest.BodyPublishers.ofString(HUGE_NUMBER.replace("1e1000", "1e999999")))),
                400, "valueQuantity.value");
        assertTrue(System.nanoTime() - started < 5_000_000_000L, "took " + (System.nanoTime() - started) / 1_000_000 + " ms");
        // Ordinary exponents still work, and read back.
        HttpResponse<String> fine = send(request("/Observation").header("Content-Type", "application/fhir+json")
                .POST(HttpRequest.BodyPublishers.ofString(HUGE_NUMBER.replace("1e1000", "1.5e3"))));
        assertEquals(201, fine.statusCode(), fine.body());
        assertTrue(fine.body().contains("1500"), fine.body());
    }

    @Test
    void numbersThatWouldExpandAreRefusedInTransactionsAndBatches() throws Exception {
        for (String type : List.of("transaction", "batch")) {
            String bundle = "{\"resourceType\":\"Bundle\",\"type\":\"" + type + "\",\"entry\":[{\"resource\":"
                    + HUGE_NUMBER + ",\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}";
            HttpResponse<String> response = send(request("").header("Content-Type", "application/fhir+json")
                    .POST(HttpRequest.BodyPublishers.ofString(bundle)));
            assertOutcome(response, 400, "valueQuantity.value");
        }
    }

    static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }
}
