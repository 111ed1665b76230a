package dev.bulkfhir.server.audit;

import ca.uhn.fhir.context.FhirContext;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.bulkfhir.providers.audit.AuditEvents;
import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SigningKeys;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.AuthSettings;
import org.hl7.fhir.r4.model.AuditEvent;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Coding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The audit trail over HTTP: a scripted session of a data client (token, kickoff, status, download,
 * Binary read, one refusal) is found again, event by event, by an auditor's AuditEvent search, and
 * by no one else; AuditEvent exports; old events are purged.
 */
class AuditTrailTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path dataDir;
    static Server server;
    static Instant sessionStart;
    static String jobId;

    /** The scripted session of client "reader". */
    @BeforeAll
    static void session() throws Exception {
        server = new Server(dataDir, AuditSettings.defaults());
        String loader = server.token("loader", "system/*.*");
        assertEquals(201, server.send("PUT", "/Patient/p1", loader, "application/fhir+json",
                "{\"resourceType\":\"Patient\",\"id\":\"p1\"}").statusCode());
        assertEquals(201, server.send("PUT", "/Binary/b1", loader, "text/plain", "hello audit").statusCode());

        sessionStart = Instant.now();
        String reader = server.token("reader", "system/*.rs");
        HttpResponse<String> kickoff = server.send("GET", "/$export?_type=Patient", reader, null, null);
        assertEquals(202, kickoff.statusCode(), kickoff.body());
        String status = kickoff.headers().firstValue("Content-Location").orElseThrow();
        jobId = status.substring(status.indexOf("_jobId=") + 7);
        String fileUrl = null;
        for (int i = 0; i < 200 && fileUrl == null; i++) {
            HttpResponse<String> poll = server.sendUrl("GET", status, reader);
            if (poll.statusCode() == 200) {
                @SuppressWarnings("unchecked")
                List<Map<String, Object>> output = (List<Map<String, Object>>) JSONObjectUtils.parse(poll.body()).get("output");
                fileUrl = (String) output.get(0).get("url");
            } else {
                assertEquals(202, poll.statusCode(), poll.body());
                Thread.sleep(100);
            }
        }
        assertNotNull(fileUrl, "the export completes");
        HttpResponse<String> file = server.sendUrl("GET", fileUrl, reader);
        assertEquals(200, file.statusCode(), file.body());
        assertTrue(file.body().contains("\"p1\""), file.body());
        HttpResponse<String> binary = server.send("GET", "/Binary/b1", reader, null, null);
        assertEquals(200, binary.statusCode());
        assertEquals("hello audit", binary.body());
        // The one refusal: the audit trail is not for data clients, whatever their * scope.
        HttpResponse<String> refused = server.send("GET", "/AuditEvent", reader, null, null);
        assertEquals(403, refused.statusCode(), refused.body());
        assertTrue(refused.body().contains("system/AuditEvent"), refused.body());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void theSessionIsFoundEventByEventWithItsAgentsAndEntities() throws Exception {
        String auditor = server.token("auditor", "system/AuditEvent.rs");
        List<AuditEvent> events = server.awaitEvents(auditor, "agent=reader", list -> list.size() >= 6);
        assertEquals(List.of("token-issued", "export-kickoff", "export-completed", "file-download", "binary-read",
                "refused"), events.stream().map(AuditTrailTest::action).toList());
        for (AuditEvent event : events) {
            assertEquals("reader", event.getAgentFirstRep().getWho().getIdentifier().getValue());
            assertTrue(event.getAgentFirstRep().getRequestor());
            assertEquals(server.server.baseUrl(), event.getSource().getObserver().getDisplay());
            assertTrue(!event.getRecorded().before(Date.from(sessionStart.minusMillis(1))));
        }
        AuditEvent kickoff = events.get(1);
        assertEquals("http://terminology.hl7.org/CodeSystem/audit-event-type", kickoff.getType().getSystem());
        assertEquals("rest", kickoff.getType().getCode());
        assertEquals(jobId, kickoff.getEntityFirstRep().getWhat().getIdentifier().getValue());
        assertEquals("system Patient", kickoff.getEntityFirstRep().getDescription());
        assertEquals(AuditEvent.AuditEventOutcome._0, kickoff.getOutcome());
        AuditEvent completed = events.get(2);
        assertEquals("110106", completed.getType().getCode());
        assertEquals("1", detail(completed, "count"));
        AuditEvent download = events.get(3);
        // An export file goes with its job: an identifier, not a reference to follow.
        assertTrue(download.getEntityFirstRep().getWhat().getIdentifier().getValue().startsWith("Binary/bulk-"));
        assertTrue(Long.parseLong(detail(download, "bytes")) > 0);
        AuditEvent read = events.get(4);
        assertEquals("Binary/b1", read.getEntityFirstRep().getWhat().getReference());
        assertEquals("native", read.getEntityFirstRep().getDescription());
        assertEquals("11", detail(read, "bytes"));
        AuditEvent refusal = events.get(5);
        assertEquals(AuditEvent.AuditEventOutcome._4, refusal.getOutcome());
        assertEquals("HTTP 403", refusal.getOutcomeDesc());
        assertEquals("AuditEvent", refusal.getEntityFirstRep().getWhat().getIdentifier().getValue());

        // Read by id.
        HttpResponse<String> one = server.send("GET", "/AuditEvent/" + read.getIdElement().getIdPart(), auditor, null, null);
        assertEquals(200, one.statusCode(), one.body());
        assertEquals("binary-read", action(FHIR.newJsonParser().parseResource(AuditEvent.class, one.body())));
        assertEquals(404, server.send("GET", "/AuditEvent/999999", auditor, null, null).statusCode());
    }

    @Test
    void dateAgentAndEntityFilterTheSearch() throws Exception {
        String auditor = server.token("auditor", "system/AuditEvent.rs");
        server.awaitEvents(auditor, "agent=reader", list -> list.size() >= 6);
        assertEquals(List.of("binary-read"), server.events(auditor, "entity=Binary/b1").stream()
                .map(AuditTrailTest::action).toList());
        assertEquals(List.of("export-kickoff", "export-completed"), server.events(auditor, "entity=" + jobId).stream()
                .map(AuditTrailTest::action).toList());
        String start = URLEncoder.encode("ge" + sessionStart, StandardCharsets.UTF_8);
        assertEquals(6, server.events(auditor, "agent=reader&date=" + start).size());
        String before = URLEncoder.encode("lt" + sessionStart.minusSeconds(3600), StandardCharsets.UTF_8);
        assertEquals(0, server.events(auditor, "agent=reader&date=" + before).size());
        // The loader's token came before the session; its own agent finds it.
        List<AuditEvent> loader = server.events(auditor, "agent=loader");
        assertEquals("token-issued", action(loader.get(0)));
        assertTrue(loader.stream().noneMatch(event -> event.getRecorded().after(Date.from(sessionStart))));

        // Pages of two, followed by their next links, give the same six.
        List<String> paged = new ArrayList<>();
        String url = server.base() + "/AuditEvent?agent=reader&_count=2";
        int pages = 0;
        while (url != null) {
            HttpResponse<String> page = server.sendUrl("GET", url, auditor);
            assertEquals(200, page.statusCode(), page.body());
            Bundle bundle = FHIR.newJsonParser().parseResource(Bundle.class, page.body());
            assertTrue(bundle.getEntry().size() <= 2);
            bundle.getEntry().forEach(entry -> paged.add(action((AuditEvent) entry.getResource())));
            url = bundle.getLink("next") == null ? null : bundle.getLink("next").getUrl();
            pages++;
        }
        assertEquals(6, paged.size());
        assertEquals(3, pages);
    }

    @Test
    void onlyAScopeNamingAuditEventSeesThem() throws Exception {
        String loader = server.token("loader", "system/*.*");
        HttpResponse<String> search = server.send("GET", "/AuditEvent?agent=reader", loader, null, null);
        assertEquals(403, search.statusCode(), search.body());
        assertTrue(search.body().contains("OperationOutcome"), search.body());
        assertEquals(403, server.send("GET", "/AuditEvent/1", loader, null, null).statusCode());
        assertEquals(403, server.send("GET", "/$export?_type=AuditEvent", loader, null, null).statusCode());
        // A system export without _type leaves the audit trail out.
        HttpResponse<String> all = server.send("GET", "/$export", loader, null, null);
        assertEquals(202, all.statusCode(), all.body());
        Map<String, Object> manifest = server.manifest(all.headers().firstValue("Content-Location").orElseThrow(), loader);
        assertTrue(manifest.get("output").toString().contains("Patient"));
        assertTrue(!manifest.get("output").toString().contains("AuditEvent"), manifest.toString());
        // No token at all: 401.
        assertEquals(401, server.send("GET", "/AuditEvent", null, null, null).statusCode());
    }

    @Test
    void theAuditorExportsAuditEvents() throws Exception {
        String auditor = server.token("auditor", "system/AuditEvent.rs");
        server.awaitEvents(auditor, "agent=reader", list -> list.size() >= 6);
        HttpResponse<String> kickoff = server.send("GET", "/$export?_type=AuditEvent", auditor, null, null);
        assertEquals(202, kickoff.statusCode(), kickoff.body());
        Map<String, Object> manifest = server.manifest(kickoff.headers().firstValue("Content-Location").orElseThrow(),
                auditor);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> output = (List<Map<String, Object>>) manifest.get("output");
        assertEquals(1, output.size(), manifest.toString());
        assertEquals("AuditEvent", output.get(0).get("type"));
        HttpResponse<String> file = server.sendUrl("GET", (String) output.get(0).get("url"), auditor);
        assertEquals(200, file.statusCode());
        List<AuditEvent> exported = file.body().lines()
                .map(line -> FHIR.newJsonParser().parseResource(AuditEvent.class, line)).toList();
        List<String> readers = exported.stream()
                .filter(event -> "reader".equals(event.getAgentFirstRep().getWho().getIdentifier().getValue()))
                .map(AuditTrailTest::action).toList();
        assertEquals(List.of("token-issued", "export-kickoff", "export-completed", "file-download", "binary-read",
                "refused"), readers.subList(0, 6));
    }

    @Test
    void eventsOlderThanTheRetentionArePurged(@TempDir Path otherDir) throws Exception {
        try (Server shortLived = new Server(otherDir, new AuditSettings(true, Duration.ofSeconds(3)))) {
            assertEquals(401, shortLived.send("GET", "/Patient/nobody", null, null, null).statusCode());
            String auditor = shortLived.token("auditor", "system/AuditEvent.rs");
            List<AuditEvent> refused = shortLived.awaitEvents(auditor, "entity=Patient/nobody", list -> !list.isEmpty());
            assertEquals("refused", action(refused.get(0)));
            assertEquals("HTTP 401", refused.get(0).getOutcomeDesc());
            assertEquals(1, refused.get(0).getAgent().size(), "no client is known for a request without token");
            shortLived.awaitEvents(auditor, "entity=Patient/nobody", List::isEmpty);
        }
    }

    private static String action(AuditEvent event) {
        return event.getSubtype().stream().filter(coding -> AuditEvents.ACTION_SYSTEM.equals(coding.getSystem()))
                .map(Coding::getCode).findFirst().orElseThrow();
    }

    private static String detail(AuditEvent event, String type) {
        return event.getEntityFirstRep().getDetail().stream().filter(detail -> detail.getType().equals(type))
                .map(detail -> detail.getValue().primitiveValue()).findFirst().orElseThrow();
    }

    /** A real server with auth on, and clients loader (system/*.*), reader (system/*.rs) and auditor. */
    static final class Server implements AutoCloseable {

        final StandaloneServer server;
        private final Map<String, JWK> keys = new HashMap<>();

        Server(Path dir, AuditSettings audit) throws Exception {
            Path clients = dir.resolve("clients.json");
            register(clients, "loader", "system/*.*");
            register(clients, "reader", "system/*.rs");
            register(clients, "auditor", "system/AuditEvent.rs");
            server = new StandaloneServer(ServerSettings.builder(dir)
                    .auth(AuthSettings.on(clients)).audit(audit).build()).start();
        }

        private void register(Path clients, String id, String scope) throws Exception {
            JWK key = SigningKeys.generate(JWSAlgorithm.ES384);
            keys.put(id, key);
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("client_id", id);
            entry.put("scope", scope);
            entry.put("jwks", Map.of("keys", List.of(key.toPublicJWK().toJSONObject())));
            ClientRegistry.register(clients, entry);
        }

        String base() {
            return server.listeningUrl();
        }

        String token(String client, String scope) throws Exception {
            JWK key = keys.get(client);
            Instant now = Instant.now();
            SignedJWT assertion = new SignedJWT(new JWSHeader.Builder(SigningKeys.algorithm(key))
                    .type(JOSEObjectType.JWT).keyID(key.getKeyID()).build(), new JWTClaimsSet.Builder()
                    .issuer(client).subject(client).audience(server.baseUrl() + "/auth/token")
                    .issueTime(Date.from(now)).expirationTime(Date.from(now.plusSeconds(120)))
                    .jwtID(UUID.randomUUID().toString()).build());
            assertion.sign(SigningKeys.signer(key));
            Map<String, String> form = Map.of("grant_type", "client_credentials",
                    "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion", assertion.serialize(), "scope", scope);
            String body = form.entrySet().stream().map(field -> field.getKey() + "="
                    + URLEncoder.encode(field.getValue(), StandardCharsets.UTF_8)).collect(Collectors.joining("&"));
            HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(base() + "/auth/token"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            return (String) JSONObjectUtils.parse(response.body()).get("access_token");
        }

        HttpResponse<String> send(String method, String path, String token, String contentType, String body)
                throws Exception {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path)).method(method,
                    body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
            if (contentType != null) request.header("Content-Type", contentType);
            if (token != null) request.header("Authorization", "Bearer " + token);
            if (path.contains("$export")) request.header("Prefer", "respond-async").header("Accept", "application/fhir+json");
            return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        }

        HttpResponse<String> sendUrl(String method, String url, String token) throws Exception {
            return send(method, url.substring(server.baseUrl().length()), token, null, null);
        }

        Map<String, Object> manifest(String statusUrl, String token) throws Exception {
            for (int i = 0; i < 300; i++) {
                HttpResponse<String> poll = sendUrl("GET", statusUrl, token);
                if (poll.statusCode() == 200) return JSONObjectUtils.parse(poll.body());
                assertEquals(202, poll.statusCode(), poll.body());
                Thread.sleep(100);
            }
            throw new AssertionError("The export did not complete");
        }

        List<AuditEvent> events(String token, String query) throws Exception {
            HttpResponse<String> response = send("GET", "/AuditEvent?" + query + "&_count=1000", token, null, null);
            assertEquals(200, response.statusCode(), response.body());
            Bundle bundle = FHIR.newJsonParser().parseResource(Bundle.class, response.body());
            return bundle.getEntry().stream().map(entry -> (AuditEvent) entry.getResource()).toList();
        }

        /** Events are written in the background: the search until it holds what is expected (10 s at most). */
        List<AuditEvent> awaitEvents(String token, String query, Predicate<List<AuditEvent>> expected) throws Exception {
            List<AuditEvent> events = List.of();
            for (int i = 0; i < 100; i++) {
                events = events(token, query);
                if (expected.test(events)) return events;
                Thread.sleep(100);
            }
            throw new AssertionError("Not found in time for " + query + ": " + events.size() + " events");
        }

        @Override
        public void close() throws Exception {
            server.close();
        }
    }
}
