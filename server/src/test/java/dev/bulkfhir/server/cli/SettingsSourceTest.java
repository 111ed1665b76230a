package dev.bulkfhir.server.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Flags beat environment variables, which beat the config file, which beats the defaults. */
class SettingsSourceTest {

    private static ServeCommand parse(List<String> args, Map<String, String> environment) {
        ServeCommand serve = new ServeCommand();
        CommandLine commandLine = new CommandLine(serve);
        commandLine.setDefaultValueProvider(new SettingsSource(args, environment));
        commandLine.parseArgs(args.toArray(String[]::new));
        return serve;
    }

    @Test
    void precedence(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("bulk.properties");
        Files.writeString(config, "port=7001\nhost=0.0.0.0\nbase-path=/file\n");

        ServeCommand fromFile = parse(List.of("--config", config.toString()), Map.of());
        assertEquals(7001, fromFile.port);
        assertEquals("0.0.0.0", fromFile.host);
        assertEquals("/file", fromFile.basePath);

        ServeCommand fromEnvironment = parse(List.of("--config", config.toString()),
                Map.of("BULKFHIR_PORT", "7002"));
        assertEquals(7002, fromEnvironment.port);
        assertEquals("0.0.0.0", fromEnvironment.host);

        ServeCommand fromFlag = parse(List.of("--config", config.toString(), "--port", "7003"),
                Map.of("BULKFHIR_PORT", "7002"));
        assertEquals(7003, fromFlag.port);

        ServeCommand defaults = parse(List.of(), Map.of());
        assertEquals(8080, defaults.port);
        assertEquals("127.0.0.1", defaults.host);
        assertEquals("/fhir", defaults.basePath);
        assertEquals(Path.of("./data"), defaults.storage.dataDir);
        assertEquals(65536, defaults.binaryInlineThreshold);
        assertEquals(10L * 1024 * 1024, defaults.binaryMaxWrapped);
        assertEquals(1024, parse(List.of(), Map.of("BULKFHIR_BINARY_INLINE_THRESHOLD", "1024")).binaryInlineThreshold);
    }

    @Test
    void helpAndVersionAreNotSettings() {
        ServeCommand serve = parse(List.of(), Map.of("BULKFHIR_VERSION", "0.1.0", "BULKFHIR_HELP", "yes"));
        assertEquals(8080, serve.port);
    }
}
