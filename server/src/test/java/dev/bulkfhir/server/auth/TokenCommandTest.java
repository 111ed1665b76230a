package dev.bulkfhir.server.auth;

import dev.bulkfhir.server.cli.KeygenCommand;
import dev.bulkfhir.server.cli.TokenCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command-line flow of docs/auth.md: keygen registers a client, token gets it a token, FHIR answers. */
class TokenCommandTest {

    record Run(int exitCode, String out, String err) {
    }

    static Run run(Object command, String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
            int code = new CommandLine(command).execute(args);
            return new Run(code, stdout.toString(StandardCharsets.UTF_8), stderr.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void keygenThenTokenThenRead(@TempDir Path dataDir, @TempDir Path home) throws Exception {
        try (AuthFixture auth = AuthFixture.startAgain(dataDir)) { // no clients yet
            Path key = home.resolve("me.jwk");
            Run keygen = run(new KeygenCommand(), "--client-id", "me", "--alg", "ES384", "--out", key.toString(),
                    "--clients", auth.clientsFile.toString(), "--server", auth.base());
            assertEquals(0, keygen.exitCode(), keygen.err());
            assertTrue(keygen.out().contains("\"client_id\":\"me\""), keygen.out());
            assertTrue(keygen.out().contains(" token --key " + key), keygen.out());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
            assertTrue(Files.readString(auth.clientsFile).contains("\"client_id\":\"me\""));

            Run again = run(new KeygenCommand(), "--client-id", "me", "--out", home.resolve("other.jwk").toString(),
                    "--clients", auth.clientsFile.toString());
            assertEquals(1, again.exitCode());
            assertTrue(again.err().contains("already registered"), again.err());

            Run token = run(new TokenCommand(), "--key", key.toString(), "--client-id", "me", "--server", auth.base(),
                    "--scope", "system/*.read");
            assertEquals(0, token.exitCode(), token.err());
            // In this JVM the server's log shares stdout: the token is the line that is a JWT.
            String accessToken = token.out().lines().filter(line -> line.matches("[\\w-]+\\.[\\w-]+\\.[\\w-]+"))
                    .findFirst().orElseThrow(() -> new AssertionError(token.out()));
            assertEquals(200, auth.get("/Patient", accessToken).statusCode());

            Run refused = run(new TokenCommand(), "--key", key.toString(), "--client-id", "someone-else",
                    "--token-url", auth.tokenUrl());
            assertEquals(1, refused.exitCode());
            assertTrue(refused.err().contains("invalid_client"), refused.err());
        }
    }
}
