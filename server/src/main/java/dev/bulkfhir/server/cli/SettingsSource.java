package dev.bulkfhir.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Where an option not given on the command line gets its value: an environment variable
 * ({@code --jdbc-url} → {@code BULKFHIR_JDBC_URL}), then the config file (a properties file,
 * key {@code jdbc-url}), then the option's own default. The config file is named by
 * {@code --config FILE} or {@code BULKFHIR_CONFIG}.
 */
final class SettingsSource implements CommandLine.IDefaultValueProvider {

    private final Map<String, String> environment;
    private final Properties configFile;

    SettingsSource(List<String> arguments) {
        this(arguments, System.getenv());
    }

    SettingsSource(List<String> arguments, Map<String, String> environment) {
        this.environment = environment;
        this.configFile = load(configPath(arguments, environment));
    }

    static String environmentName(String key) {
        return "BULKFHIR_" + key.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    @Override
    public String defaultValue(ArgSpec argument) {
        // --help and --version are not settings: BULKFHIR_VERSION=1.2 in a container must not break every command
        if (!(argument instanceof OptionSpec option) || option.usageHelp() || option.versionHelp()) {
            return null;
        }
        String key = option.longestName().replaceFirst("^-+", "");
        String fromEnvironment = environment.get(environmentName(key));
        if (fromEnvironment != null) {
            return fromEnvironment;
        }
        String fromFile = configFile.getProperty(key);
        return fromFile != null ? fromFile.trim() : option.defaultValue();
    }

    private static String configPath(List<String> arguments, Map<String, String> environment) {
        for (int i = 0; i < arguments.size(); i++) {
            String argument = arguments.get(i);
            if (argument.equals("--config") && i + 1 < arguments.size()) {
                return arguments.get(i + 1);
            }
            if (argument.startsWith("--config=")) {
                return argument.substring("--config=".length());
            }
        }
        return environment.get(environmentName("config"));
    }

    private static Properties load(String path) {
        Properties properties = new Properties();
        if (path == null) {
            return properties;
        }
        try (Reader reader = Files.newBufferedReader(Path.of(path))) {
            properties.load(reader);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read config file " + path + ": " + e.getMessage(), e);
        }
        return properties;
    }
}
