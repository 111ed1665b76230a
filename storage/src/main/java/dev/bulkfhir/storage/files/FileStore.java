package dev.bulkfhir.storage.files;

import dev.bulkfhir.storage.binary.BinaryContent;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Where export files and large Binary content live, by key ({@code export/<job>/<file>.ndjson},
 * {@code binaries/<ab>/<key>}): a directory ({@link #directory}, shared between nodes when every node
 * mounts it) or an S3-compatible object store ({@link S3FileStore}). Keys are made by our own code
 * from generated ids, never from client text. Objects are written once and never changed.
 */
public interface FileStore extends AutoCloseable {

    /** A folder on a disk (or a volume every node mounts): {@code <root>/<key>}. */
    static FileStore directory(Path root) {
        return new DirectoryFileStore(root);
    }

    /**
     * A new object, streamed in: it exists for readers once {@link FileUpload#close()} returns (and
     * then survives a crash); {@link FileUpload#abort()} gives it up.
     */
    FileUpload create(String key) throws IOException;

    /** The content of a finished object of {@code size} bytes (not checked here: see {@link BinaryContent#isAvailable()}). */
    BinaryContent content(String key, long size);

    /** Deletes an object; nothing happens if there is none. */
    void delete(String key) throws IOException;

    /** The keys of the objects under {@code prefix} (which ends with {@code /}), in no particular order. */
    List<String> list(String prefix) throws IOException;

    /** Deletes every object under {@code prefix} (which ends with {@code /}). */
    default void deleteAll(String prefix) throws IOException {
        for (String key : list(prefix)) {
            delete(key);
        }
    }

    /** Where the files are, for logs. */
    String describe();

    @Override
    default void close() {
    }
}
