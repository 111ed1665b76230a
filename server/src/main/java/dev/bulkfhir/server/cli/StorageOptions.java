package dev.bulkfhir.server.cli;

import dev.bulkfhir.storage.Database;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Where the data lives; shared by every command that opens the database. */
final class StorageOptions {

    @Option(names = "--config", paramLabel = "FILE",
            description = "Properties file with settings (keys as the long option names, e.g. port=8080).")
    Path config;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "./data",
            description = "Data directory: the H2 database and the file store (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--jdbc-url", paramLabel = "URL",
            description = "JDBC URL of the database, e.g. jdbc:postgresql://localhost/bulkfhir "
                    + "(default: an H2 file database in the data directory).")
    String jdbcUrl;

    @Option(names = "--jdbc-user", paramLabel = "USER", description = "Database user.")
    String jdbcUser;

    @Option(names = "--jdbc-password", paramLabel = "PASSWORD", description = "Database password.")
    String jdbcPassword;

    /** The database a bulk load writes to (the server opens its own; see {@code ServerSettings}). */
    String bulkLoadJdbcUrl() {
        return jdbcUrl != null && !jdbcUrl.isBlank() ? jdbcUrl : Database.h2BulkLoadUrl(dataDir);
    }

    /** Where the data is, for the banner: never the password. */
    String describe() {
        return jdbcUrl != null && !jdbcUrl.isBlank()
                ? jdbcUrl.replaceAll("password=[^&;]*", "password=***")
                : "H2 file database in " + dataDir.toAbsolutePath().normalize();
    }
}
