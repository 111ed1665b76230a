package dev.bulkfhir.server;

import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.files.S3FileStore;
import dev.bulkfhir.storage.files.S3Settings;

import java.nio.file.Path;

/**
 * Where export files and large Binary content live (node-local state stays in the data directory).
 *
 * @param directory             a folder, e.g. one every node mounts; null (with no {@code s3}): the data directory
 * @param s3                    an S3-compatible object store instead of a folder; null: a folder
 * @param binaryInlineThreshold Binary content up to this many bytes stays in the database; larger goes here
 */
public record StorageSettings(Path directory, S3Settings s3, int binaryInlineThreshold) {

    public StorageSettings {
        if (directory != null && s3 != null) {
            throw new IllegalArgumentException("Storage is a directory or an S3 bucket, not both");
        }
        if (binaryInlineThreshold < 0 || binaryInlineThreshold > BinaryStore.MAX_INLINE_THRESHOLD) {
            throw new IllegalArgumentException("The Binary inline threshold must be 0 to "
                    + BinaryStore.MAX_INLINE_THRESHOLD + " bytes, not " + binaryInlineThreshold);
        }
    }

    /** Today's layout: {@code export/} and {@code binaries/} under the data directory. */
    public static StorageSettings dataDirectory() {
        return directory(null);
    }

    /** A folder (null: the data directory), with the default inline threshold. */
    public static StorageSettings directory(Path directory) {
        return new StorageSettings(directory, null, BinaryStore.DEFAULT_INLINE_THRESHOLD);
    }

    /** An S3-compatible bucket, with the default inline threshold. */
    public static StorageSettings s3(S3Settings s3) {
        return new StorageSettings(null, s3, BinaryStore.DEFAULT_INLINE_THRESHOLD);
    }

    public StorageSettings withBinaryInlineThreshold(int bytes) {
        return new StorageSettings(directory, s3, bytes);
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
