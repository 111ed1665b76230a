package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import dev.bulkfhir.server.StorageSettings;
import dev.bulkfhir.server.storage.S3Proxy;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Export files and Binary content in an S3-compatible object store (S3Proxy, a real implementation
 * in its own JVM): downloads streamed through the server, with ranges, or redirected to a presigned
 * URL that a plain HTTP client (no token, no SDK) follows.
 */
class S3ExportTest {

    private static final int PATIENTS = 12;

    @TempDir
    static Path s3Folder;
    static S3Proxy s3;

    /** A client that does not follow redirects, so that the tests see the 307 itself. */
    private static final HttpClient PLAIN = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();

    @BeforeAll
    static void startS3() throws Exception {
        s3 = S3Proxy.start(s3Folder);
    }

    @AfterAll
    static void stopS3() throws Exception {
        if (s3 != null) s3.close();
    }

    private static StandaloneServer server(Path dataDir, String bucket, boolean redirect) throws Exception {
        return new StandaloneServer(ServerSettings.builder(dataDir).demo(PATIENTS)
                .storage(StorageSettings.s3(s3.settings(bucket, redirect))).build()).start();
    }

    @Test
    void exportFilesLiveInTheBucketAndStreamWithRanges(@TempDir Path dataDir) throws Exception {
        String bucket = s3.bucket("streamed");
        try (StandaloneServer server = server(dataDir, bucket, false)) {
            BulkClient client = new BulkClient(server.baseUrl());
            String status = client.start("$export");
            JsonNode manifest = client.await(status);
            Map<String, List<IBaseResource>> all = client.download(manifest); // 200, counts, every line parses
            assertEquals(PATIENTS, all.get("Patient").size());

            String jobId = BulkClient.jobId(status);
            List<String> keys = s3.keys(bucket, "bulk/export/" + jobId + "/");
            assertEquals(manifest.get("output").size() + manifest.get("error").size(), keys.size(), keys.toString());
            assertFalse(Files.exists(dataDir.resolve("export").resolve(jobId)), "no export file on the node's disk");

            String url = manifest.get("output").get(0).get("url").asText();
            byte[] whole = client.get(url).body();
            HttpResponse<byte[]> part = client.get(url, "Range", "bytes=7-106");
            assertEquals(206, part.statusCode());
            assertEquals("bytes 7-106/" + whole.length, part.headers().firstValue("Content-Range").orElse(null));
            assertArrayEquals(Arrays.copyOfRange(whole, 7, 107), part.body());
            HttpResponse<byte[]> tail = client.get(url, "Range", "bytes=-10");
            assertEquals(206, tail.statusCode());
            assertArrayEquals(Arrays.copyOfRange(whole, whole.length - 10, whole.length), tail.body());
            assertEquals(416, client.get(url, "Range", "bytes=" + whole.length + "-").statusCode());

            // Deleting a finished export deletes its objects.
            assertEquals(202, client.send("DELETE", status, null).statusCode());
            long deadline = System.currentTimeMillis() + 10_000;
            while (!s3.keys(bucket, "bulk/export/" + jobId + "/").isEmpty() && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            assertEquals(List.of(), s3.keys(bucket, "bulk/export/" + jobId + "/"));
        }
    }

    @Test
    void redirectModeAnswers307ToAPresignedUrl(@TempDir Path dataDir) throws Exception {
        String bucket = s3.bucket("redirected");
        try (StandaloneServer server = server(dataDir, bucket, true)) {
            BulkClient client = new BulkClient(server.baseUrl());
            JsonNode manifest = client.await(client.start("$export?_type=Patient"));
            JsonNode file = manifest.get("output").get(0);
            assertEquals(server.baseUrl() + "/Binary/", file.get("url").asText().substring(0, server.baseUrl().length() + 8),
                    "the manifest names the server's URL, not the store's");

            HttpResponse<byte[]> redirect = PLAIN.send(HttpRequest.newBuilder(URI.create(file.get("url").asText()))
                    .header("Accept", "application/fhir+ndjson").build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(307, redirect.statusCode());
            assertEquals("no-store", redirect.headers().firstValue("Cache-Control").orElse(null));
            String location = redirect.headers().firstValue("Location").orElseThrow();
            assertTrue(location.startsWith(s3.endpoint + "/" + bucket + "/bulk/export/"), location);
            assertTrue(location.contains("X-Amz-Signature="), location);
            assertTrue(location.contains("X-Amz-Expires=300"), location);

            HttpResponse<byte[]> fetched = PLAIN.send(HttpRequest.newBuilder(URI.create(location)).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, fetched.statusCode(), new String(fetched.body(), StandardCharsets.UTF_8));
            assertEquals("application/fhir+ndjson", fetched.headers().firstValue("Content-Type").orElse(null));
            // The headers the server would have sent itself.
            assertEquals("inline; filename=\"Patient-1.ndjson\"", fetched.headers().firstValue("Content-Disposition")
                    .orElse(null));
            String[] lines = new String(fetched.body(), StandardCharsets.UTF_8).split("\n");
            assertEquals(file.get("count").asInt(), lines.length);
            for (String line : lines) {
                assertEquals("Patient", BulkClient.CONTEXT.newJsonParser().parseResource(line).fhirType());
            }
            // The store serves ranges of the presigned URL itself.
            HttpResponse<byte[]> part = PLAIN.send(HttpRequest.newBuilder(URI.create(location))
                    .header("Range", "bytes=0-9").build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(206, part.statusCode());
            assertArrayEquals(Arrays.copyOfRange(fetched.body(), 0, 10), part.body());

            // A tampered signature is refused by the store.
            HttpResponse<byte[]> forged = PLAIN.send(HttpRequest.newBuilder(URI.create(
                    location.replaceAll("X-Amz-Signature=[0-9a-f]", "X-Amz-Signature=x"))).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(403, forged.statusCode());
        }
    }

    @Test
    void aMissingBucketStopsTheServerAtStart(@TempDir Path dataDir) {
        IllegalStateException refused = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> server(dataDir, "no-such-bucket", false).close());
        assertTrue(refused.getMessage().startsWith("Cannot reach the bucket of s3://no-such-bucket/bulk/"),
                refused.getMessage());
    }

    @Test
    void largeBinaryIsStoredInTheBucketAndReadBackWhole(@TempDir Path dataDir) throws Exception {
        byte[] content = new byte[20 * 1024 * 1024 + 12345]; // three parts of a multipart upload
        new Random(7).nextBytes(content);
        for (boolean redirect : new boolean[] {false, true}) {
            String bucket = s3.bucket(redirect ? "binaries-redirected" : "binaries-streamed");
            Path dir = Files.createDirectories(dataDir.resolve(redirect ? "r" : "s"));
            try (StandaloneServer server = server(dir, bucket, redirect)) {
                HttpResponse<byte[]> created = PLAIN.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/Binary"))
                        .header("Content-Type", "application/pdf")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(content)).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(201, created.statusCode(), new String(created.body(), StandardCharsets.UTF_8));
                String id = created.headers().firstValue("Location").orElseThrow()
                        .replaceAll(".*/Binary/([^/]+)/_history/.*", "$1");
                List<String> keys = s3.keys(bucket, "bulk/binaries/");
                assertEquals(1, keys.size(), keys.toString());
                assertFalse(Files.exists(dir.resolve("binaries")), "no Binary content on the node's disk");

                URI read = URI.create(server.baseUrl() + "/Binary/" + id);
                HttpResponse<byte[]> response = PLAIN.send(HttpRequest.newBuilder(read).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                if (redirect) {
                    assertEquals(307, response.statusCode());
                    URI location = URI.create(response.headers().firstValue("Location").orElseThrow());
                    response = PLAIN.send(HttpRequest.newBuilder(location).build(), HttpResponse.BodyHandlers.ofByteArray());
                }
                assertEquals(200, response.statusCode());
                assertEquals("application/pdf", response.headers().firstValue("Content-Type").orElse(null));
                assertArrayEquals(content, response.body());

                if (!redirect) {
                    // A range across the first part boundary (8 MiB), streamed from the store.
                    long first = 8L * 1024 * 1024 - 5;
                    HttpResponse<byte[]> part = PLAIN.send(HttpRequest.newBuilder(read)
                            .header("Range", "bytes=" + first + "-" + (first + 9)).build(),
                            HttpResponse.BodyHandlers.ofByteArray());
                    assertEquals(206, part.statusCode());
                    assertArrayEquals(Arrays.copyOfRange(content, (int) first, (int) first + 10), part.body());
                }
            }
        }
    }
}
