package dev.bulkfhir.server;

import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.files.S3FileStore;
import dev.bulkfhir.storage.files.S3Settings;

import java.nio.file.Path;

/**
 * Where export files and large Binary content live (node-local state stays in the data directory).
 *
 * @param directory a folder, e.g. one every node mounts; null (with no {@code s3}): the data directory
 * @param s3        an S3-compatible object store instead of a folder; null: a folder
 */
public record StorageSettings(Path directory, S3Settings s3) {

    public StorageSettings {
        if (directory != null && s3 != null) {
            throw new IllegalArgumentException("Storage is a directory or an S3 bucket, not both");
        }
    }

    /** Today's layout: {@code export/} and {@code binaries/} under the data directory. */
    public static StorageSettings dataDirectory() {
        return new StorageSettings(null, null);
    }

    public FileStore open(Path dataDir) {
        return s3 != null ? S3FileStore.open(s3) : FileStore.directory(directory != null ? directory : dataDir);
    }

    /** For the banner: never a secret. */
    public String describe(Path dataDir) {
        return s3 != null ? s3.describe()
                : (directory != null ? directory : dataDir).toAbsolutePath().normalize().toString();
    }
}
