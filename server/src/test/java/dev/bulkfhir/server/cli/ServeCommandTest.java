package dev.bulkfhir.server.cli;

import dev.bulkfhir.providers.binary.BinaryAccessSettings;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StorageSettings;
import dev.bulkfhir.server.audit.AuditSettings;
import dev.bulkfhir.server.ops.OpsSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code serve}'s flags, environment and config file become one {@link ServerSettings}. */
class ServeCommandTest {

    private static ServerSettings parse(List<String> args, Map<String, String> environment) {
        ServeCommand serve = new ServeCommand();
        CommandLine commandLine = new CommandLine(serve);
        commandLine.setDefaultValueProvider(new SettingsSource(args, environment));
        commandLine.parseArgs(args.toArray(String[]::new));
        return serve.settings();
    }

    @Test
    void theFlagDefaultsAreTheSettingsDefaults() {
        ServerSettings settings = parse(List.of(), Map.of());
        assertEquals(Path.of("./data"), settings.dataDir());
        assertEquals("127.0.0.1", settings.host());
        assertEquals(8080, settings.port());
        assertEquals("/fhir", settings.basePath());
        assertNull(settings.baseUrl());
        assertEquals(ServerSettings.DEFAULT_MAX_REQUEST_BODY, settings.maxRequestBody());
        assertEquals(new ServerSettings.Jdbc(null, null, null), settings.jdbc());
        assertFalse(settings.demo().enabled());
        assertTrue(settings.auth().enabled());
        assertEquals(ExportSettings.defaults(), settings.export());
        assertEquals(BinaryAccessSettings.defaults(), settings.binary());
        assertEquals(StorageSettings.dataDirectory(), settings.storage());
        assertEquals(OpsSettings.defaults(), settings.ops());
        assertEquals(AuditSettings.defaults(), settings.audit());
    }

    @Test
    void flagsOverEnvironmentOverConfigFileIntoEachPart(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("bulk-fhir.properties");
        Files.writeString(config, """
                port=9000
                audit=off
                binary-max-wrapped=1000
                demo-patients=3
                """);
        ServerSettings settings = parse(List.of("--config", config.toString(), "--port", "0",
                "--binary-inline-threshold", "100", "--ops-port", "0", "--base-url", "https://fhir.example.org/fhir/"),
                Map.of("BULKFHIR_DEMO", "true", "BULKFHIR_DEMO_PATIENTS", "7", "BULKFHIR_AUDIT_RETENTION", "12h",
                        "BULKFHIR_JDBC_URL", "jdbc:postgresql://db/bulk", "BULKFHIR_JDBC_USER", "bulk"));
        assertEquals(0, settings.port());
        assertEquals("https://fhir.example.org/fhir", settings.baseUrl());
        assertEquals(new ServerSettings.Demo(true, 7, 1L), settings.demo());
        assertEquals(new AuditSettings(false, Duration.ofHours(12)), settings.audit());
        assertEquals(1000, settings.binary().maxWrappedContent());
        assertEquals(100, settings.storage().binaryInlineThreshold());
        assertEquals(Integer.valueOf(0), settings.ops().opsPort());
        assertEquals(new ServerSettings.Jdbc("jdbc:postgresql://db/bulk", "bulk", null), settings.jdbc());
        assertEquals("jdbc:postgresql://db/bulk", settings.effectiveJdbcUrl());
    }

    @Test
    void aChangedCopyKeepsEveryOtherPart() {
        ServerSettings settings = parse(List.of("--demo", "--audit", "off", "--max-request-body", "1024"), Map.of());
        ServerSettings moved = settings.toBuilder().port(0).build();
        assertEquals(parse(List.of("--demo", "--audit", "off", "--max-request-body", "1024", "--port", "0"), Map.of()),
                moved);
    }

    @Test
    void mistakesNameTheFlag() {
        CommandLine.ParameterException audit = assertThrows(CommandLine.ParameterException.class,
                () -> parse(List.of("--audit", "sideways"), Map.of()));
        assertTrue(audit.getMessage().contains("--audit"), audit.getMessage());
        CommandLine.ParameterException baseUrl = assertThrows(CommandLine.ParameterException.class,
                () -> parse(List.of("--base-url", "not a url"), Map.of()));
        assertTrue(baseUrl.getMessage().contains("--base-url"), baseUrl.getMessage());
    }
}
