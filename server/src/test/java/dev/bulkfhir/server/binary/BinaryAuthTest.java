package dev.bulkfhir.server.binary;

import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.AuthSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;

import static dev.bulkfhir.server.binary.BinaryServer.header;
import static dev.bulkfhir.server.binary.BinaryServer.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** With auth on, no Binary request gets past the token check: not a read, a download or an upload. */
class BinaryAuthTest {

    @Test
    void withoutATokenEveryBinaryRequestIsUnauthorized(@TempDir Path dataDir) throws Exception {
        ServerSettings settings = ServerSettings.builder(dataDir)
                .auth(AuthSettings.on(dataDir.resolve("clients.json"))).build();
        try (BinaryServer server = new BinaryServer(settings)) {
            server.server.store().writeAll(List.of(new org.hl7.fhir.r4.model.Binary()
                    .setContentType("text/plain").setData("secret".getBytes()).setId("guarded")));
            for (String[] request : List.of(
                    new String[] {"GET", "/Binary/guarded"},
                    new String[] {"GET", "/Binary/guarded?_format=json"},
                    new String[] {"GET", "/Binary/guarded/_history/1"},
                    new String[] {"HEAD", "/Binary/guarded"},
                    new String[] {"GET", "/Binary/guarded/$binary-access-read"},
                    new String[] {"GET", "/Binary/guarded/$export-download"},
                    new String[] {"GET", "/Binary?_id=guarded"},
                    new String[] {"POST", "/Binary"},
                    new String[] {"PUT", "/Binary/guarded"},
                    new String[] {"DELETE", "/Binary/guarded"})) {
                byte[] body = request[0].equals("POST") || request[0].equals("PUT") ? new byte[] {1, 2, 3} : null;
                for (String authorization : new String[] {null, "Bearer not-a-token"}) {
                    String[] headers = authorization == null ? new String[] {"Content-Type", "application/octet-stream"}
                            : new String[] {"Content-Type", "application/octet-stream", "Authorization", authorization};
                    HttpResponse<byte[]> response = server.send(request[0], request[1], body, headers);
                    String what = String.join(" ", request) + " with " + authorization;
                    assertEquals(401, response.statusCode(), what + ": " + text(response));
                    assertTrue(header(response, "WWW-Authenticate").startsWith("Bearer"), what);
                    assertTrue(!text(response).contains("secret"), what);
                }
            }
            // Nothing was written or deleted.
            assertEquals("secret", new String(server.server.store().binaries().find("guarded", null).orElseThrow()
                    .content().readAllBytes()));
        }
    }
}
