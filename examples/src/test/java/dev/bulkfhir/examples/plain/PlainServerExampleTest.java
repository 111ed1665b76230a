package dev.bulkfhir.examples.plain;

import ca.uhn.fhir.rest.annotation.Operation;
import ca.uhn.fhir.rest.server.HardcodedServerAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.examples.BulkDataClient;
import dev.bulkfhir.providers.BulkFhirPlugin;
import dev.bulkfhir.providers.auth.SmartAuth;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Reference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Example (a) over HTTP: the plain server's own data exported, Binary served, tokens required. */
class PlainServerExampleTest {

    @TempDir
    static Path dataDir;
    static ClinicServer server;
    static BulkDataClient reader;
    static BulkDataClient writer;
    /** What the host stored: "Type/id" to its JSON. */
    static final Map<String, String> stored = new HashMap<>();

    @BeforeAll
    static void start() throws Exception {
        Path clients = dataDir.resolve("clients.json");
        server = new ClinicServer(dataDir, SmartAuth.tokens(clients, dataDir.resolve("signing-key.jwk"),
                Duration.ofMinutes(5)));
        writer = new BulkDataClient(server.base).authorize(clients, "loader", "system/*.*");
        reader = new BulkDataClient(server.base).authorize(clients, "analytics", "system/*.read");
        for (int p = 0; p < 3; p++) {
            Patient patient = (Patient) server.records.save(new Patient().addName(
                    new org.hl7.fhir.r4.model.HumanName().setFamily("Family" + p)));
            remember(patient);
            for (int o = 0; o < 2; o++) {
                remember(server.records.save(new Observation().setStatus(Observation.ObservationStatus.FINAL)
                        .setSubject(new Reference("Patient/" + patient.getIdElement().getIdPart()))));
            }
        }
        remember(server.records.save(new Observation().setStatus(Observation.ObservationStatus.FINAL))); // no patient
    }

    private static void remember(org.hl7.fhir.r4.model.Resource resource) {
        stored.put(resource.fhirType() + "/" + resource.getIdElement().getIdPart(),
                ClinicServer.CONTEXT.newJsonParser().encodeResourceToString(resource));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void withoutATokenEverythingButMetadataIsRefused() throws Exception {
        BulkDataClient anonymous = new BulkDataClient(server.base);
        for (String path : List.of("/Patient", "/$export", "/Binary/anything", "/$export-poll-status?_jobId=x")) {
            HttpResponse<byte[]> answer = anonymous.get(path, "Accept", "application/fhir+json", "Prefer", "respond-async");
            assertEquals(401, answer.statusCode(), path);
            assertTrue(answer.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"), path);
            assertTrue(anonymous.text(answer).contains("OperationOutcome"), path);
        }
        assertEquals(200, anonymous.get("/metadata").statusCode());
        JsonNode smart = BulkDataClient.JSON.readTree(anonymous.get("/.well-known/smart-configuration").body());
        assertEquals(server.base + "/auth/token", smart.get("token_endpoint").asText());
    }

    @Test
    void systemExportHoldsExactlyWhatTheHostStored() throws Exception {
        JsonNode manifest = reader.awaitManifest(reader.kickoff("/$export"));
        assertTrue(manifest.get("requiresAccessToken").asBoolean());
        Map<String, String> exported = new HashMap<>();
        for (JsonNode file : manifest.get("output")) {
            String url = file.get("url").asText();
            HttpResponse<byte[]> binaryRead = reader.get(url);
            assertEquals(200, binaryRead.statusCode(), reader.text(binaryRead));
            assertEquals("application/fhir+ndjson", binaryRead.headers().firstValue("Content-Type").orElseThrow());
            for (String operation : List.of("/$binary-access-read", "/$export-download")) {
                HttpResponse<byte[]> download = reader.get(url + operation);
                assertEquals(200, download.statusCode(), operation);
                assertArrayEquals(binaryRead.body(), download.body(), operation);
            }
            String[] lines = reader.text(binaryRead).split("\n");
            assertEquals(file.get("count").asInt(), lines.length);
            for (String line : lines) {
                IBaseResource resource = ClinicServer.CONTEXT.newJsonParser().parseResource(line);
                assertEquals(file.get("type").asText(), resource.fhirType());
                exported.put(resource.fhirType() + "/" + resource.getIdElement().getIdPart(), line);
            }
        }
        assertEquals(stored, exported);
    }

    @Test
    void patientExportLeavesOutObservationsOfNoPatient() throws Exception {
        JsonNode manifest = reader.awaitManifest(reader.kickoff("/Patient/$export?_type=Observation"));
        assertEquals(1, manifest.get("output").size());
        assertEquals(6, manifest.get("output").get(0).get("count").asInt());
    }

    @Test
    void binaryIsStoredAndReadNativeOrWrapped() throws Exception {
        byte[] pdf = "%PDF-1.4\n% a tiny document\n%%EOF\n".getBytes(StandardCharsets.US_ASCII);
        HttpResponse<String> created = writer.send("POST", "/Binary", "application/pdf", pdf);
        assertEquals(201, created.statusCode(), created.body());
        String location = created.headers().firstValue("Location").orElseThrow();
        String path = "/Binary/" + location.split("/Binary/")[1].split("/")[0];

        HttpResponse<byte[]> nativeRead = reader.get(path);
        assertEquals(200, nativeRead.statusCode());
        assertEquals("application/pdf", nativeRead.headers().firstValue("Content-Type").orElseThrow());
        assertArrayEquals(pdf, nativeRead.body());

        for (String[] wrapped : List.of(new String[] {path + "?_format=json"},
                new String[] {path, "Accept", "application/fhir+json"},
                new String[] {path + "?_format=json", "Accept", "application/pdf"})) { // _format wins
            HttpResponse<byte[]> read = reader.get(wrapped[0], Arrays.copyOfRange(wrapped, 1, wrapped.length));
            assertEquals(200, read.statusCode());
            Binary binary = ClinicServer.CONTEXT.newJsonParser().parseResource(Binary.class, reader.text(read));
            assertArrayEquals(pdf, binary.getContent(), String.join(" ", wrapped));
        }
        assertEquals(403, reader.send("POST", "/Binary", "application/pdf", pdf).statusCode()); // read-only client
    }

    @Test
    void installingTwiceOrOverTheServersOwnPartsFailsEarly(@TempDir Path other) {
        try (BulkFhirPlugin plugin = BulkFhirPlugin.builder(ClinicServer.CONTEXT)
                .resources(new ClinicResourceSource(server.records)).dataDirectory(other).auth(SmartAuth.off())
                .start()) {
            RestfulServer withOwnBinary = new RestfulServer(ClinicServer.CONTEXT);
            withOwnBinary.registerProvider(new ClinicProvider(Binary.class, server.records));
            assertTrue(assertThrows(IllegalStateException.class, () -> plugin.install(withOwnBinary))
                    .getMessage().contains("already has a provider for Binary"));

            RestfulServer withOwnExport = new RestfulServer(ClinicServer.CONTEXT);
            withOwnExport.registerProvider(new OwnExport());
            assertTrue(assertThrows(IllegalStateException.class, () -> plugin.install(withOwnExport))
                    .getMessage().contains("already serves $export"));

            RestfulServer plain = new RestfulServer(ClinicServer.CONTEXT);
            plugin.install(plain);
            assertTrue(assertThrows(IllegalStateException.class, () -> plugin.install(plain))
                    .getMessage().contains("already installed"));
        }
        IllegalStateException noAuth = assertThrows(IllegalStateException.class, () -> BulkFhirPlugin
                .builder(ClinicServer.CONTEXT).resources(new ClinicResourceSource(server.records)).dataDirectory(other)
                .start());
        assertTrue(noAuth.getMessage().contains("auth(...)"), noAuth.getMessage());
    }

    @Test
    void ownTokensNeedAConfiguredBaseUrl(@TempDir Path other) throws Exception {
        SmartAuth tokens = SmartAuth.tokens(other.resolve("clients.json"), other.resolve("signing-key.jwk"),
                Duration.ofMinutes(5));
        try (BulkFhirPlugin plugin = BulkFhirPlugin.builder(ClinicServer.CONTEXT)
                .resources(new ClinicResourceSource(server.records)).dataDirectory(other).auth(tokens).start()) {
            // HAPI's default address strategy takes the base from the request's Host header.
            RestfulServer fromRequests = new RestfulServer(ClinicServer.CONTEXT);
            String refusal = assertThrows(IllegalStateException.class, () -> plugin.install(fromRequests)).getMessage();
            assertTrue(refusal.contains("baseUrl(") && refusal.contains("HardcodedServerAddressStrategy"), refusal);
            assertTrue(fromRequests.getInterceptorService().getAllRegisteredInterceptors().isEmpty(),
                    "nothing was installed");

            RestfulServer configured = new RestfulServer(ClinicServer.CONTEXT);
            configured.setServerAddressStrategy(new HardcodedServerAddressStrategy("https://fhir.example.org/fhir"));
            plugin.install(configured); // a hardcoded address is configuration
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BulkFhirPlugin.builder(ClinicServer.CONTEXT)
                .baseUrl("fhir.example.org/fhir")).getMessage().contains("absolute http(s) URL"));
    }

    /** A server's own bulk export, as HAPI JPA's would be. */
    public static final class OwnExport {
        @Operation(name = "$export", idempotent = true)
        public Binary export() {
            return new Binary();
        }
    }
}
