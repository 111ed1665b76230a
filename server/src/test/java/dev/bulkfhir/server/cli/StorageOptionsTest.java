package dev.bulkfhir.server.cli;

import dev.bulkfhir.server.StorageSettings;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --storage and the --s3-* options, from flags and from the environment. */
class StorageOptionsTest {

    private static StorageSettings parse(List<String> args, Map<String, String> environment) {
        ServeCommand serve = new ServeCommand();
        CommandLine commandLine = new CommandLine(serve);
        commandLine.setDefaultValueProvider(new SettingsSource(args, environment));
        commandLine.parseArgs(args.toArray(String[]::new));
        return serve.storage.storageSettings();
    }

    @Test
    void directoryByDefaultOrAsGiven() {
        assertEquals(StorageSettings.dataDirectory(), parse(List.of(), Map.of()));
        assertEquals(Path.of("/mnt/bulk"), parse(List.of("--storage", "/mnt/bulk"), Map.of()).directory());
    }

    @Test
    void s3FromTheEnvironmentWithFlagsOnTop() {
        StorageSettings settings = parse(List.of("--s3-downloads", "redirect", "--s3-presign-ttl", "90s"), Map.of(
                "BULKFHIR_STORAGE", "s3://bulk-bucket/fhir/",
                "BULKFHIR_S3_ENDPOINT", "http://127.0.0.1:9000",
                "BULKFHIR_S3_ACCESS_KEY", "key",
                "BULKFHIR_S3_SECRET_KEY", "secret"));
        assertNull(settings.directory());
        assertEquals("bulk-bucket", settings.s3().bucket());
        assertEquals("fhir/", settings.s3().prefix());
        assertEquals(URI.create("http://127.0.0.1:9000"), settings.s3().endpoint());
        assertEquals("us-east-1", settings.s3().region());
        assertEquals("secret", settings.s3().secretKey());
        assertTrue(settings.s3().redirectDownloads());
        assertEquals(Duration.ofSeconds(90), settings.s3().presignTtl());
    }

    @Test
    void mistakesAreParameterErrors() {
        CommandLine.ParameterException mode = assertThrows(CommandLine.ParameterException.class,
                () -> parse(List.of("--storage", "s3://bucket", "--s3-downloads", "sideways"), Map.of()));
        assertTrue(mode.getMessage().contains("stream or redirect"), mode.getMessage());
        assertThrows(CommandLine.ParameterException.class,
                () -> parse(List.of("--storage", "s3://bucket", "--s3-access-key", "only"), Map.of()));
        assertThrows(CommandLine.ParameterException.class,
                () -> parse(List.of("--storage", "s3://bucket", "--s3-endpoint", "127.0.0.1:9000"), Map.of()));
        assertThrows(CommandLine.ParameterException.class,
                () -> parse(List.of("--storage", "s3://bucket", "--s3-presign-ttl", "30d"), Map.of()));
    }
}
