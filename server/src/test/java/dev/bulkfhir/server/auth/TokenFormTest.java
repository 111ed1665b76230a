package dev.bulkfhir.server.auth;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A token request whose form Jetty cannot parse is still an RFC 6749 error, and the connection goes on. */
class TokenFormTest {

    @TempDir
    static Path dataDir;

    static AuthFixture auth;
    static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void start() throws Exception {
        auth = AuthFixture.start(dataDir);
    }

    @AfterAll
    static void stop() throws Exception {
        auth.close();
    }

    static String manyFields() {
        StringBuilder body = new StringBuilder("grant_type=client_credentials");
        for (int i = 0; i < 20_000; i++) body.append("&f").append(i).append("=1");
        return body.toString();
    }

    @Test
    void brokenFormsGetOAuthErrors() throws Exception {
        for (String body : List.of("%%%zz", manyFields())) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(auth.tokenUrl()))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(400, response.statusCode(), response.body());
            assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
            Map<String, Object> error = AuthFixture.json(response);
            assertEquals("invalid_request", error.get("error"), response.body());
            assertTrue(((String) error.get("error_description")).contains("form"), response.body());
            // The same client's next request is answered.
            HttpResponse<String> metadata = http.send(HttpRequest.newBuilder(URI.create(auth.base() + "/metadata"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metadata.statusCode());
        }
    }
}
