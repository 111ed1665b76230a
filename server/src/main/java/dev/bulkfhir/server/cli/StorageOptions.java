package dev.bulkfhir.server.cli;

import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.server.StorageSettings;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.files.S3Settings;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.net.URI;
import java.nio.file.Path;

/** Where the data lives; shared by every command that opens the database. */
final class StorageOptions {

    @Option(names = "--config", paramLabel = "FILE",
            description = "Properties file with settings (keys as the long option names, e.g. port=8080).")
    Path config;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "./data",
            description = "Data directory, this node's own: the H2 database, the node id and, without --storage,"
                    + " the file store (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--storage", paramLabel = "DIR|s3://BUCKET/PREFIX",
            description = "Where export files and large Binary content go: a directory (every node of a cluster"
                    + " mounts the same one, e.g. NFS) or an S3-compatible bucket (default: the data directory).")
    String storage;

    @Option(names = "--s3-endpoint", paramLabel = "URL",
            description = "URL of an S3-compatible store other than AWS (MinIO, Ceph...), e.g. http://127.0.0.1:9000.")
    String s3Endpoint;

    @Option(names = "--s3-region", paramLabel = "REGION", defaultValue = "us-east-1",
            description = "Region of the bucket (default: ${DEFAULT-VALUE}).")
    String s3Region;

    @Option(names = "--s3-access-key", paramLabel = "KEY",
            description = "S3 access key id (default: the AWS SDK's credential chain: environment, profile, role).")
    String s3AccessKey;

    @Option(names = "--s3-secret-key", paramLabel = "SECRET", description = "S3 secret access key.")
    String s3SecretKey;

    @Option(names = "--s3-downloads", paramLabel = "stream|redirect", defaultValue = "stream",
            description = "stream: downloads pass through the server; redirect: 307 to a presigned URL of the"
                    + " object (default: ${DEFAULT-VALUE}).")
    String s3Downloads;

    @Option(names = "--s3-presign-ttl", paramLabel = "DURATION", defaultValue = "5m",
            description = "How long a presigned download URL stays valid, e.g. 90s, 5m (default: ${DEFAULT-VALUE}).")
    String s3PresignTtl;

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

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

    /** Where files go, from {@code --storage} and the {@code --s3-*} options. */
    StorageSettings storageSettings() {
        String location = storage == null || storage.isBlank() ? null : storage.trim();
        try {
            if (!S3Settings.isS3Url(location)) {
                return StorageSettings.directory(location == null ? null : Path.of(location));
            }
            boolean redirect = switch (s3Downloads.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "stream" -> false;
                case "redirect" -> true;
                default -> throw new IllegalArgumentException("--s3-downloads is stream or redirect, not " + s3Downloads);
            };
            URI endpoint = s3Endpoint == null || s3Endpoint.isBlank() ? null : URI.create(s3Endpoint.trim());
            if (endpoint != null && (endpoint.getScheme() == null || endpoint.getHost() == null)) {
                throw new IllegalArgumentException("--s3-endpoint must be an http(s) URL, not " + s3Endpoint);
            }
            return StorageSettings.s3(S3Settings.parse(location, endpoint, s3Region, blankToNull(s3AccessKey),
                    blankToNull(s3SecretKey), redirect, ExportSettings.parseDuration(s3PresignTtl)));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--storage: " + e.getMessage());
        }
    }

    private static String blankToNull(String text) {
        return text == null || text.isBlank() ? null : text.trim();
    }

    /** Where the data is, for the banner: never the password. */
    String describe() {
        return jdbcUrl != null && !jdbcUrl.isBlank()
                ? jdbcUrl.replaceAll("password=[^&;]*", "password=***")
                : "H2 file database in " + dataDir.toAbsolutePath().normalize();
    }
}
