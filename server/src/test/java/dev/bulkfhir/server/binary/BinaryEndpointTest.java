package dev.bulkfhir.server.binary;

import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.MethodOutcome;
import dev.bulkfhir.storage.resource.StoredResource;
import org.hl7.fhir.r4.model.Attachment;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.DocumentReference;
import org.hl7.fhir.r4.model.Enumerations;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.Reference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static dev.bulkfhir.server.binary.BinaryServer.CONTEXT;
import static dev.bulkfhir.server.binary.BinaryServer.header;
import static dev.bulkfhir.server.binary.BinaryServer.text;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Create, update, delete, errors, download headers, conditional and range requests, and the two
 * download operations, over HTTP against the real server.
 */
class BinaryEndpointTest {

    @TempDir
    static Path dataDir;
    static BinaryServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new BinaryServer(dataDir);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    static void assertOutcome(HttpResponse<byte[]> response, int status, String text) {
        assertEquals(status, response.statusCode(), text(response));
        String type = header(response, "Content-Type");
        OperationOutcome outcome = (OperationOutcome) (type != null && type.contains("xml")
                ? CONTEXT.newXmlParser() : CONTEXT.newJsonParser()).parseResource(text(response));
        String diagnostics = outcome.getIssueFirstRep().getDiagnostics();
        assertTrue(diagnostics.contains(text), diagnostics);
    }

    // ---- create and update: raw and FHIR-format, round trips both ways ----

    @Test
    void fhirCreateThenNativeReadIsByteExact() throws Exception {
        for (EncodingEnum encoding : List.of(EncodingEnum.JSON, EncodingEnum.XML)) {
            byte[] content = random(100_000, encoding.ordinal()); // above the inline threshold: file store
            Binary binary = new Binary().setContentType("image/png");
            binary.setContent(content);
            binary.setSecurityContext(new Reference("Patient/p1"));
            HttpResponse<byte[]> response = server.send("POST", "/Binary",
                    encoding.newParser(CONTEXT).encodeResourceToString(binary).getBytes(StandardCharsets.UTF_8),
                    "Content-Type", encoding.getResourceContentTypeNonLegacy());
            assertEquals(201, response.statusCode(), text(response));
            Binary echoed = (Binary) encoding.newParser(CONTEXT).parseResource(text(response));
            assertNull(echoed.getContent(), "the answer carries no data");
            assertEquals("1", echoed.getMeta().getVersionId());
            String id = echoed.getIdElement().getIdPart();

            HttpResponse<byte[]> read = server.get("/Binary/" + id);
            assertEquals(200, read.statusCode());
            assertEquals("image/png", header(read, "Content-Type"));
            assertEquals("Patient/p1", header(read, "X-Security-Context"));
            assertArrayEquals(content, read.body());
        }
        // HAPI's generic client sends a Binary raw, with its contentType as the Content-Type.
        byte[] content = random(1_000, 9);
        Binary binary = new Binary().setContentType("image/jpeg");
        binary.setContent(content);
        MethodOutcome created = server.client.create().resource(binary).execute();
        HttpResponse<byte[]> read = server.get("/Binary/" + created.getId().getIdPart());
        assertEquals("image/jpeg", header(read, "Content-Type"));
        assertArrayEquals(content, read.body());
    }

    @Test
    void rawCreateThenWrappedReadRoundTrips() throws Exception {
        byte[] content = random(5_000, 7);
        String id = server.createRaw(content, "application/octet-stream", "X-Security-Context", "Patient/p2");
        Binary read = server.client.read().resource(Binary.class).withId(id).execute();
        assertEquals("application/octet-stream", read.getContentType());
        assertEquals("Patient/p2", read.getSecurityContext().getReference());
        assertArrayEquals(content, read.getContent());

        HttpResponse<byte[]> json = server.get("/Binary/" + id + "?_format=json");
        assertTrue(text(json).contains("\"data\":\"" + Base64.getEncoder().encodeToString(content) + "\""));
    }

    @Test
    void rawCreateAnswersLikeHapiAndHonoursPrefer() throws Exception {
        HttpResponse<byte[]> created = server.send("POST", "/Binary", "hello".getBytes(StandardCharsets.UTF_8),
                "Content-Type", "text/plain");
        assertEquals(201, created.statusCode());
        assertTrue(header(created, "Location").matches(".*/Binary/[^/]+/_history/1"), header(created, "Location"));
        assertEquals("W/\"1\"", header(created, "ETag"));
        assertNotNull(header(created, "Last-Modified"));
        Binary echoed = (Binary) CONTEXT.newJsonParser().parseResource(text(created));
        assertEquals("text/plain", echoed.getContentType());
        assertNull(echoed.getContent(), "the answer carries no data");

        HttpResponse<byte[]> minimal = server.send("POST", "/Binary", new byte[] {1, 2, 3},
                "Content-Type", "application/octet-stream", "Prefer", "return=minimal");
        assertEquals(201, minimal.statusCode());
        assertEquals(0, minimal.body().length);
        assertNotNull(header(minimal, "Location"));

        HttpResponse<byte[]> outcome = server.send("POST", "/Binary", new byte[] {1, 2, 3},
                "Content-Type", "application/octet-stream", "Prefer", "return=OperationOutcome");
        assertTrue(text(outcome).contains("Created Binary/"), text(outcome));
    }

    @Test
    void updateKeepsEveryVersionsContent() throws Exception {
        byte[] first = random(200_000, 1);
        byte[] second = "small now".getBytes(StandardCharsets.UTF_8);
        HttpResponse<byte[]> put1 = server.send("PUT", "/Binary/versioned-1", first,
                "Content-Type", "application/octet-stream");
        assertEquals(201, put1.statusCode(), text(put1));
        HttpResponse<byte[]> put2 = server.send("PUT", "/Binary/versioned-1", second, "Content-Type", "text/plain");
        assertEquals(200, put2.statusCode(), text(put2));
        assertEquals("W/\"2\"", header(put2, "ETag"));

        assertArrayEquals(second, server.get("/Binary/versioned-1").body());
        assertEquals("text/plain", header(server.get("/Binary/versioned-1"), "Content-Type"));
        HttpResponse<byte[]> v1 = server.get("/Binary/versioned-1/_history/1");
        assertArrayEquals(first, v1.body());
        assertEquals("application/octet-stream", header(v1, "Content-Type"));
        Binary v1Wrapped = server.client.read().resource(Binary.class)
                .withId(new IdType("Binary", "versioned-1", "1")).execute();
        assertArrayEquals(first, v1Wrapped.getContent());

        // FHIR-format update through the client, then history
        Binary third = new Binary().setContentType("text/plain");
        third.setId("versioned-1");
        third.setContent("third".getBytes(StandardCharsets.UTF_8));
        assertEquals("3", server.client.update().resource(third).execute().getId().getVersionIdPart());
        Bundle history = server.client.history().onInstance(new IdType("Binary", "versioned-1"))
                .returnBundle(Bundle.class).execute();
        assertEquals(3, history.getEntry().size());
        assertArrayEquals("third".getBytes(StandardCharsets.UTF_8),
                ((Binary) history.getEntry().get(0).getResource()).getContent());
        assertArrayEquals(first, ((Binary) history.getEntry().get(2).getResource()).getContent());
    }

    @Test
    void contentLeavesTheJsonOnEveryWritePath() throws Exception {
        byte[] big = random(300_000, 3);
        // The loader's and the demo generator's path...
        Binary loaded = new Binary().setContentType("application/pdf");
        loaded.setId("loaded-1");
        loaded.setContent(big);
        server.server.store().writeAll(List.of(loaded));
        assertArrayEquals(big, loaded.getContent(), "the caller's resource keeps its data");
        // ...a transaction...
        Binary inTransaction = new Binary().setContentType("application/pdf");
        inTransaction.setContent(big);
        Bundle transaction = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        transaction.addEntry().setFullUrl("urn:uuid:6f7c5f2e-1b1e-4a53-9d0e-8f6c1ad0b001").setResource(inTransaction)
                .getRequest().setMethod(Bundle.HTTPVerb.PUT).setUrl("Binary/in-transaction-1");
        server.client.transaction().withBundle(transaction).execute();

        for (String id : List.of("loaded-1", "in-transaction-1")) {
            StoredResource stored = server.server.store().read("Binary", id).orElseThrow();
            assertFalse(stored.jsonText().contains("\"data\""), stored.jsonText());
            assertArrayEquals(big, server.get("/Binary/" + id).body());
        }
        // Large content is a file under the data directory, named by the server.
        try (Stream<Path> files = Files.walk(dataDir.resolve("binaries"))) {
            assertTrue(files.filter(Files::isRegularFile)
                    .anyMatch(file -> file.getFileName().toString().matches("[0-9a-f]{32}")));
        }
    }

    @Test
    void aFailedTransactionLeavesNoContentBehind() throws Exception {
        Binary big = new Binary().setContentType("application/octet-stream");
        big.setContent(random(400_000, 13)); // would go to the file store
        Bundle transaction = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        transaction.addEntry().setResource(big).getRequest().setMethod(Bundle.HTTPVerb.PUT).setUrl("Binary/rolled-back");
        transaction.addEntry().setResource(new Binary()).getRequest() // no contentType: refused
                .setMethod(Bundle.HTTPVerb.PUT).setUrl("Binary/invalid-one");
        long filesBefore = countFiles();
        HttpResponse<byte[]> response = server.send("POST", "", CONTEXT.newJsonParser().encodeResourceToString(
                transaction).getBytes(StandardCharsets.UTF_8), "Content-Type", "application/fhir+json");
        assertEquals(400, response.statusCode(), text(response));
        assertEquals(404, server.get("/Binary/rolled-back").statusCode());
        assertEquals(filesBefore, countFiles(), "the staged file of the rolled-back Binary is removed");
    }

    private static long countFiles() throws Exception {
        Path root = dataDir.resolve("binaries");
        if (!Files.exists(root)) return 0;
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).count();
        }
    }

    // ---- errors ----

    @Test
    void unknownIsNotFoundWithTheExpectedText() throws Exception {
        for (String path : List.of("/Binary/no-such-binary", "/Binary/no-such-binary?_format=json",
                "/Binary/no-such-binary/_history/1", "/Binary/no-such-binary/$binary-access-read",
                "/Binary/no-such-binary/$export-download")) {
            assertOutcome(server.get(path), 404, "Could not locate this Binary.");
        }
    }

    @Test
    void deletedIsGone() throws Exception {
        String id = server.createRaw("to be deleted".getBytes(StandardCharsets.UTF_8), "text/plain");
        server.client.delete().resourceById("Binary", id).execute();
        for (String path : List.of("/Binary/" + id, "/Binary/" + id + "?_format=json",
                "/Binary/" + id + "/$binary-access-read", "/Binary/" + id + "/$export-download")) {
            assertOutcome(server.get(path), 410, "was deleted");
        }
        // The version before the deletion is still there.
        assertEquals("to be deleted", text(server.get("/Binary/" + id + "/_history/1")));
        assertOutcome(server.send("DELETE", "/Binary/never-existed", null), 404, "Could not locate this Binary.");
    }

    @Test
    void unsupportedFormatIsNotAcceptableEverywhere() throws Exception {
        String id = server.createRaw(new byte[] {1}, "application/octet-stream");
        for (String path : List.of("/Binary/" + id + "?_format=text/csv", "/Binary?_id=" + id + "&_format=pdf",
                "/Binary/" + id + "/_history?_format=ndjson")) {
            assertOutcome(server.get(path), 406, "is not supported here");
        }
        assertOutcome(server.send("POST", "/Binary?_format=csv", new byte[] {1}, "Content-Type", "text/plain"), 406,
                "is not supported here");
    }

    @Test
    void wrappedReadsAreCappedButNativeReadsAreNot() throws Exception {
        byte[] big = random(10 * 1024 * 1024 + 1, 11);
        String id = server.createRaw(big, "application/octet-stream");
        assertOutcome(server.get("/Binary/" + id + "?_format=json"), 406, "Ask for the content natively");
        assertOutcome(server.get("/Binary/" + id, "Accept", "application/fhir+xml"), 406, "$binary-access-read");
        assertOutcome(server.get("/Binary?_id=" + id), 406, "more than");
        // Without data the cap does not apply.
        HttpResponse<byte[]> summary = server.get("/Binary/" + id + "?_format=json&_summary=true");
        assertEquals(200, summary.statusCode(), text(summary));
        assertArrayEquals(big, server.get("/Binary/" + id).body());
        assertArrayEquals(big, server.get("/Binary/" + id + "/$binary-access-read").body());

        // A FHIR-format upload above the cap is refused before it is read, with or without a length.
        String json = "{\"resourceType\":\"Binary\",\"contentType\":\"application/octet-stream\",\"data\":\""
                + Base64.getEncoder().encodeToString(random(11 * 1024 * 1024, 12)) + "\"}";
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        assertOutcome(server.send("POST", "/Binary", body, "Content-Type", "application/fhir+json"), 413,
                "Send larger content raw");
        HttpResponse<byte[]> chunked = server.http.send(HttpRequest.newBuilder(URI.create(server.base() + "/Binary"))
                .header("Content-Type", "application/fhir+json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertOutcome(chunked, 413, "Send larger content raw");
    }

    @Test
    void pathTraversalAndMalformedIdsNeverReachAFile() throws Exception {
        String overlong = "a".repeat(65);
        for (String path : List.of("/Binary/..%2F..%2F..%2Fetc%2Fpasswd", "/Binary/../../../etc/passwd",
                "/Binary/..", "/Binary/.", "/Binary/%2E%2E", "/Binary/..%5C..%5Cwindows%5Cwin.ini",
                "/Binary/" + overlong, "/Binary/" + "b".repeat(5000), "/Binary/a%20b", "/Binary/a;b", "/Binary/%C3%A4",
                "/Binary/a%00b", "/Binary/x/_history/abc", "/Binary/x/_history/99999999999999999999",
                "/Binary/..%2Fbinaries/$binary-access-read", "/Binary/" + overlong + "/$export-download",
                "/Binary/" + overlong + "?_format=json")) {
            HttpResponse<byte[]> response = server.http.send(HttpRequest.newBuilder(URI.create(server.base() + path))
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
            int status = response.statusCode();
            assertTrue(status == 400 || status == 404, path + " -> " + status + ": " + text(response));
            assertFalse(text(response).contains("root:"), path);
        }
        assertOutcome(server.send("PUT", "/Binary/" + overlong, new byte[] {1}, "Content-Type", "text/plain"), 400,
                "Binary/[id]");
    }

    @Test
    void badUploadsAreClientErrors() throws Exception {
        assertOutcome(server.send("POST", "/Binary", "a=b".getBytes(StandardCharsets.UTF_8),
                "Content-Type", "application/x-www-form-urlencoded"), 415, "form post");
        assertOutcome(server.send("POST", "/Binary", new byte[] {1},
                "Content-Type", "application/octet-stream", "Content-Encoding", "gzip"), 415, "Content-Encoding");
        assertOutcome(server.send("POST", "/Binary", new byte[] {1}, "Content-Type", "not a media type"), 400,
                "Content-Type");
        assertOutcome(server.send("POST", "/Binary", "{\"resourceType\":\"Binary\"}".getBytes(StandardCharsets.UTF_8),
                "Content-Type", "application/fhir+json"), 400, "Binary.contentType");
        assertOutcome(server.send("POST", "/Binary", "{not json".getBytes(StandardCharsets.UTF_8),
                "Content-Type", "application/fhir+json"), 400, "");
    }

    // ---- safe native content ----

    @Test
    void activeContentIsSandboxedAndDownloaded() throws Exception {
        for (String type : List.of("text/html", "image/svg+xml", "application/javascript", "application/xml",
                "text/html; charset=utf-8")) {
            String id = server.createRaw("<script>alert(1)</script>".getBytes(StandardCharsets.UTF_8), type);
            HttpResponse<byte[]> read = server.get("/Binary/" + id);
            // The container may drop the space before a parameter; the media type is the same.
            assertEquals(type.replace("; ", ";"), header(read, "Content-Type").replace("; ", ";"));
            assertEquals("nosniff", header(read, "X-Content-Type-Options"));
            assertEquals("sandbox", header(read, "Content-Security-Policy"), type);
            assertTrue(header(read, "Content-Disposition").startsWith("attachment"), type);
        }
        String pdf = server.createRaw("%PDF-1.4".getBytes(StandardCharsets.US_ASCII), "application/pdf");
        HttpResponse<byte[]> read = server.get("/Binary/" + pdf);
        assertEquals("nosniff", header(read, "X-Content-Type-Options"));
        assertNull(header(read, "Content-Security-Policy"));
        assertNull(header(read, "Content-Disposition"), "a passive type without a known name is shown inline");
    }

    @Test
    void filenamesComeFromTheUploadOrTheDocumentReference() throws Exception {
        String named = server.createRaw("%PDF-1.4".getBytes(StandardCharsets.US_ASCII), "application/pdf",
                "Content-Disposition", "attachment; filename=\"../../etc/lab \\\"report\\\".pdf\"");
        assertEquals("inline; filename=\"lab _report_.pdf\"", header(server.get("/Binary/" + named),
                "Content-Disposition"));
        assertEquals("attachment; filename=\"lab _report_.pdf\"",
                header(server.get("/Binary/" + named + "/$binary-access-read"), "Content-Disposition"));

        String utf8 = server.createRaw(new byte[] {1}, "application/octet-stream",
                "Content-Disposition", "attachment; filename*=UTF-8''Befund%20M%C3%BCller.bin");
        assertEquals("inline; filename=\"Befund M_ller.bin\"; filename*=UTF-8''Befund%20M%C3%BCller.bin",
                header(server.get("/Binary/" + utf8), "Content-Disposition"));

        String document = server.createRaw("%PDF-1.4".getBytes(StandardCharsets.US_ASCII), "application/pdf");
        DocumentReference reference = new DocumentReference();
        reference.setStatus(Enumerations.DocumentReferenceStatus.CURRENT);
        Attachment attachment = reference.addContent().getAttachment();
        attachment.setContentType("application/pdf").setUrl("Binary/" + document).setTitle("discharge-summary.pdf");
        server.client.create().resource(reference).execute();
        assertEquals("attachment; filename=\"discharge-summary.pdf\"",
                header(server.get("/Binary/" + document + "/$export-download"), "Content-Disposition"));

        String anonymous = server.createRaw("x".getBytes(StandardCharsets.UTF_8), "text/csv");
        assertEquals("attachment; filename=\"" + anonymous + ".csv\"",
                header(server.get("/Binary/" + anonymous + "/$binary-access-read"), "Content-Disposition"));
    }

    // ---- what a download client expects ----

    /**
     * The common wrapped read (JSON, whole, unconditional) is written from the stored JSON; it must be
     * exactly what HAPI writes when it parses and encodes the Binary itself, which {@code _summary=false}
     * (the same resource, asked for in a way only HAPI answers) shows.
     */
    @Test
    void theDirectWrappedReadIsExactlyWhatHapiWrites() throws Exception {
        Binary tagged = new Binary().setContentType("text/plain");
        tagged.setContent("tagged".getBytes(StandardCharsets.UTF_8));
        tagged.getMeta().addTag("http://example.org/tags", "t1", "Tag one");
        tagged.setSecurityContext(new Reference("Patient/p3"));
        tagged.getContentTypeElement().addExtension("http://example.org/ext", new org.hl7.fhir.r4.model.StringType("x"));
        String taggedId = server.client.create().resource(CONTEXT.newJsonParser().encodeResourceToString(tagged))
                .withAdditionalHeader("Content-Type", "application/fhir+json").execute().getId().getIdPart();
        String[] ids = {
                server.createRaw(random(1024, 21), "application/octet-stream"),
                server.createRaw(random(200_000, 22), "image/png", "X-Security-Context", "Patient/p1"),
                server.createRaw(new byte[0], "application/octet-stream"),
                server.createRaw(random(1, 23), "application/pdf"),
                server.createRaw(random(2, 24), "application/pdf"),
                taggedId};
        for (String id : ids) {
            for (String path : List.of("/Binary/" + id + "?_format=json", "/Binary/" + id + "/_history/1?_format=json")) {
                HttpResponse<byte[]> direct = server.get(path);
                HttpResponse<byte[]> hapi = server.get(path + "&_summary=false");
                assertEquals(200, direct.statusCode(), text(direct));
                assertEquals(text(hapi), text(direct), path);
                assertEquals(String.valueOf(direct.body().length), header(direct, "Content-Length"));
                for (String name : List.of("Content-Type", "ETag", "Last-Modified", "Content-Location", "X-Powered-By")) {
                    assertEquals(header(hapi, name), header(direct, name), name + " of " + path);
                }
                assertNotNull(header(direct, "X-Request-ID"));
            }
            HttpResponse<byte[]> accepted = server.get("/Binary/" + id, "Accept", "application/fhir+json");
            assertEquals(text(server.get("/Binary/" + id + "?_format=json&_summary=false")), text(accepted));
            HttpResponse<byte[]> zipped = server.get("/Binary/" + id + "?_format=json", "Accept-Encoding", "gzip");
            assertEquals("gzip", header(zipped, "Content-Encoding"));
            assertEquals(text(server.get("/Binary/" + id + "?_format=json")), new String(
                    new java.util.zip.GZIPInputStream(new ByteArrayInputStream(zipped.body())).readAllBytes(),
                    StandardCharsets.UTF_8));
        }
        Binary read = (Binary) CONTEXT.newJsonParser().parseResource(text(server.get("/Binary/" + taggedId + "?_format=json")));
        assertEquals("tagged", new String(read.getContent(), StandardCharsets.UTF_8));
        assertEquals("t1", read.getMeta().getTagFirstRep().getCode());
    }

    /** {@code /metadata} is encoded once per statement and format; the bytes are HAPI's own. */
    @Test
    void metadataIsWhatHapiWritesInEveryFormat() throws Exception {
        for (String query : List.of("", "?_format=json", "?_format=xml", "?_pretty=true", "?_format=xml&_pretty=true")) {
            HttpResponse<byte[]> remembered = server.get("/metadata" + query);
            HttpResponse<byte[]> again = server.get("/metadata" + query);
            HttpResponse<byte[]> hapi = server.get("/metadata" + query + (query.isEmpty() ? "?" : "&") + "_summary=false");
            assertEquals(200, remembered.statusCode());
            assertEquals(text(hapi), text(remembered), query);
            assertArrayEquals(remembered.body(), again.body());
            for (String name : List.of("Content-Type", "Content-Location", "X-Powered-By")) {
                assertEquals(header(hapi, name), header(remembered, name), name + " of " + query);
            }
            assertNotNull(header(remembered, "X-Request-ID"));
        }
        HttpResponse<byte[]> zipped = server.get("/metadata", "Accept-Encoding", "gzip");
        assertEquals("gzip", header(zipped, "Content-Encoding"));
        assertEquals(text(server.get("/metadata")), new String(
                new java.util.zip.GZIPInputStream(new ByteArrayInputStream(zipped.body())).readAllBytes(),
                StandardCharsets.UTF_8));
        String part = text(server.get("/metadata?_elements=fhirVersion"));
        assertTrue(part.contains("\"fhirVersion\"") && !part.contains("\"rest\""), "_elements still goes to HAPI: " + part);
    }

    @Test
    void conditionalReads() throws Exception {
        String id = server.createRaw(random(1000, 5), "application/octet-stream");
        HttpResponse<byte[]> first = server.get("/Binary/" + id);
        String etag = header(first, "ETag");
        String lastModified = header(first, "Last-Modified");
        assertEquals("W/\"1\"", etag);
        assertNotNull(lastModified);

        HttpResponse<byte[]> unchanged = server.get("/Binary/" + id, "If-None-Match", etag);
        assertEquals(304, unchanged.statusCode());
        assertEquals(0, unchanged.body().length);
        assertEquals(etag, header(unchanged, "ETag"));
        assertEquals(304, server.get("/Binary/" + id, "If-None-Match", "\"1\"").statusCode());
        assertEquals(304, server.get("/Binary/" + id, "If-None-Match", "W/\"7\", W/\"1\"").statusCode());
        assertEquals(304, server.get("/Binary/" + id, "If-None-Match", "*").statusCode());
        assertEquals(200, server.get("/Binary/" + id, "If-None-Match", "W/\"2\"").statusCode());

        assertEquals(304, server.get("/Binary/" + id, "If-Modified-Since", lastModified).statusCode());
        String earlier = DateTimeFormatter.RFC_1123_DATE_TIME.format(
                ZonedDateTime.parse(lastModified, DateTimeFormatter.RFC_1123_DATE_TIME).minusHours(1));
        assertEquals(200, server.get("/Binary/" + id, "If-Modified-Since", earlier).statusCode());
        assertEquals(200, server.get("/Binary/" + id, "If-Modified-Since", "not a date").statusCode());
        // If-None-Match wins over If-Modified-Since.
        assertEquals(200, server.get("/Binary/" + id, "If-None-Match", "W/\"9\"", "If-Modified-Since", lastModified)
                .statusCode());
        // The operations and wrapped reads answer conditionally too.
        assertEquals(304, server.get("/Binary/" + id + "/$binary-access-read", "If-None-Match", etag).statusCode());
        assertEquals(304, server.get("/Binary/" + id + "?_format=json", "If-None-Match", etag).statusCode());
    }

    @Test
    void headSendsTheHeadersOnly() throws Exception {
        byte[] content = random(70_000, 6);
        String id = server.createRaw(content, "application/octet-stream");
        for (String path : List.of("/Binary/" + id, "/Binary/" + id + "/$binary-access-read",
                "/Binary/" + id + "/$export-download")) {
            HttpResponse<byte[]> head = server.head(path);
            assertEquals(200, head.statusCode(), path);
            assertEquals(Integer.toString(content.length), header(head, "Content-Length"), path);
            assertEquals("application/octet-stream", header(head, "Content-Type"), path);
            assertEquals("bytes", header(head, "Accept-Ranges"), path);
            assertEquals(0, head.body().length);
        }
    }

    @Test
    void rangesResumeDownloads() throws Exception {
        byte[] content = random(300_000, 8);
        String id = server.createRaw(content, "application/octet-stream");
        for (String path : List.of("/Binary/" + id, "/Binary/" + id + "/$binary-access-read",
                "/Binary/" + id + "/$export-download")) {
            HttpResponse<byte[]> middle = server.get(path, "Range", "bytes=1000-1999");
            assertEquals(206, middle.statusCode());
            assertEquals("bytes 1000-1999/300000", header(middle, "Content-Range"));
            assertEquals("1000", header(middle, "Content-Length"));
            assertArrayEquals(Arrays.copyOfRange(content, 1000, 2000), middle.body());

            HttpResponse<byte[]> rest = server.get(path, "Range", "bytes=150000-");
            assertEquals(206, rest.statusCode());
            assertArrayEquals(Arrays.copyOfRange(content, 150000, 300000), rest.body());

            HttpResponse<byte[]> suffix = server.get(path, "Range", "bytes=-100");
            assertEquals("bytes 299900-299999/300000", header(suffix, "Content-Range"));
            assertArrayEquals(Arrays.copyOfRange(content, 299900, 300000), suffix.body());

            HttpResponse<byte[]> beyond = server.get(path, "Range", "bytes=299990-400000");
            assertEquals("bytes 299990-299999/300000", header(beyond, "Content-Range"));

            HttpResponse<byte[]> unsatisfiable = server.get(path, "Range", "bytes=300000-");
            assertOutcome(unsatisfiable, 416, "lies outside the content");
            assertEquals("bytes */300000", header(unsatisfiable, "Content-Range"));

            for (String ignored : List.of("bytes=0-1,5-6", "bytes=9-3", "lines=1-2", "bytes=abc")) {
                HttpResponse<byte[]> whole = server.get(path, "Range", ignored);
                assertEquals(200, whole.statusCode(), ignored);
                assertArrayEquals(content, whole.body(), ignored);
            }
            String etag = header(server.head(path), "ETag");
            assertEquals(206, server.get(path, "Range", "bytes=0-9", "If-Range", etag).statusCode());
            assertEquals(200, server.get(path, "Range", "bytes=0-9", "If-Range", "W/\"99\"").statusCode());
        }
    }

    // ---- the download operations ----

    @Test
    void operationsAlwaysSendTheContent() throws Exception {
        byte[] content = "{\"resourceType\":\"Patient\"}\n".getBytes(StandardCharsets.UTF_8);
        String id = server.createRaw(content, "application/fhir+ndjson");
        for (String operation : List.of("$binary-access-read", "$export-download")) {
            for (String[] headers : List.of(new String[0], new String[] {"Accept", "application/fhir+json"},
                    new String[] {"Accept", "application/fhir+xml"})) {
                for (String query : List.of("", "?_format=json")) {
                    HttpResponse<byte[]> response = server.get("/Binary/" + id + "/" + operation + query, headers);
                    assertEquals(200, response.statusCode(), text(response));
                    assertEquals("application/fhir+ndjson", header(response, "Content-Type"));
                    assertEquals("attachment; filename=\"" + id + ".ndjson\"", header(response, "Content-Disposition"));
                    assertEquals("nosniff", header(response, "X-Content-Type-Options"));
                    assertArrayEquals(content, response.body());
                }
            }
        }
        assertOutcome(server.get("/Binary/" + id + "/$binary-access-read?path=Binary.securityContext"), 400,
                "path=Binary.securityContext");
        assertEquals(200, server.get("/Binary/" + id + "/$binary-access-read?path=Binary.data").statusCode());
        // An NDJSON Binary also comes natively for _format=ndjson.
        assertArrayEquals(content, server.get("/Binary/" + id + "?_format=ndjson").body());
    }

    @Test
    void capabilityStatementDeclaresBothOperations() {
        CapabilityStatement capability = server.client.capabilities().ofType(CapabilityStatement.class).execute();
        CapabilityStatement.CapabilityStatementRestResourceComponent binary = capability.getRestFirstRep()
                .getResource().stream().filter(r -> r.getType().equals("Binary")).findFirst().orElseThrow();
        List<String> operations = binary.getOperation().stream().map(o -> o.getName()).toList();
        assertTrue(operations.contains("binary-access-read"), operations.toString());
        assertTrue(operations.contains("export-download"), operations.toString());
        List<String> interactions = binary.getInteraction().stream().map(i -> i.getCode().toCode()).toList();
        assertTrue(interactions.containsAll(List.of("read", "vread", "create", "update", "delete", "search-type",
                "history-instance")), interactions.toString());
    }
}
