package dev.bulkfhir.server.auth;

import dev.bulkfhir.server.StorageSettings;
import dev.bulkfhir.server.storage.S3Proxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Redirected downloads with auth on: the manifest's URLs are the server's and need the token
 * ({@code requiresAccessToken: true}); only the job's owner, with a valid token, is sent on to the
 * presigned URL, which a client then fetches without the token.
 */
class AuthS3RedirectTest {

    @Test
    void onlyTheOwnerIsRedirectedAndTheManifestSaysATokenIsNeeded(@TempDir Path temp) throws Exception {
        try (S3Proxy s3 = S3Proxy.start(temp.resolve("s3"))) {
            String bucket = s3.bucket("auth-redirect");
            try (AuthFixture auth = AuthFixture.start(temp.resolve("data"),
                    settings -> settings.storage(StorageSettings.s3(s3.settings(bucket, true))))) {
                String admin = auth.token("admin", "system/*.*");
                assertEquals(201, auth.send("PUT", "/Patient/p1", admin, "application/fhir+json",
                        "{\"resourceType\":\"Patient\",\"id\":\"p1\"}").statusCode());
                String reader = auth.token("reader", "system/*.read");
                HttpResponse<String> kickoff = send(auth.base() + "/$export?_type=Patient", reader,
                        "Accept", "application/fhir+json", "Prefer", "respond-async");
                assertEquals(202, kickoff.statusCode(), kickoff.body());
                String status = kickoff.headers().firstValue("Content-Location").orElseThrow();
                Map<String, Object> manifest = null;
                for (int i = 0; i < 300 && manifest == null; i++) {
                    HttpResponse<String> poll = send(status, reader);
                    if (poll.statusCode() == 200) manifest = AuthFixture.json(poll);
                    else Thread.sleep(100);
                }
                assertEquals(Boolean.TRUE, manifest.get("requiresAccessToken"));
                @SuppressWarnings("unchecked")
                String url = (String) ((List<Map<String, Object>>) manifest.get("output")).get(0).get("url");
                assertTrue(url.startsWith(auth.base() + "/Binary/"), url);

                HttpResponse<String> anonymous = send(url, null);
                assertEquals(401, anonymous.statusCode());
                assertFalse(anonymous.headers().firstValue("Location").isPresent());
                HttpResponse<String> stranger = send(url, auth.token("narrow", "system/Patient.read"));
                assertEquals(404, stranger.statusCode(), "another client's file: no redirect, no hint");
                assertFalse(stranger.headers().firstValue("Location").isPresent());

                HttpResponse<String> owner = send(url, reader);
                assertEquals(307, owner.statusCode(), owner.body());
                String location = owner.headers().firstValue("Location").orElseThrow();
                assertTrue(location.startsWith(s3.endpoint.toString()), location);
                HttpResponse<String> file = send(location, null); // the token never goes to the store
                assertEquals(200, file.statusCode(), file.body());
                assertTrue(file.body().startsWith("{\"resourceType\":\"Patient\""), file.body());
            }
        }
    }

    private static HttpResponse<String> send(String url, String token, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).GET();
        if (token != null) request.header("Authorization", "Bearer " + token);
        for (int i = 0; i < headers.length; i += 2) request.header(headers[i], headers[i + 1]);
        return AuthFixture.http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
