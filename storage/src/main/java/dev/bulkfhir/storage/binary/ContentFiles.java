package dev.bulkfhir.storage.binary;

import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.files.FileUpload;

import java.io.IOException;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Large Binary content in the file store: one object per Binary version, named by a random key the
 * server generates (32 hex digits), at {@code binaries/<first two>/<key>}. No client-supplied text
 * ever becomes part of a name, and a key read back from the database is checked again before use.
 */
final class ContentFiles {

    private static final Pattern KEY = Pattern.compile("[0-9a-f]{32}");
    /** Large enough for few system calls per megabyte, small enough to keep memory flat. */
    static final int BUFFER_SIZE = 128 * 1024;

    private final FileStore store;

    ContentFiles(FileStore store) {
        this.store = store;
    }

    FileStore store() {
        return store;
    }

    static String newKey() {
        return UUID.randomUUID().toString().replace("-", "");
    }

    private static String name(String key) {
        if (key == null || !KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("Not a file store key: " + key);
        }
        return "binaries/" + key.substring(0, 2) + "/" + key;
    }

    /** A new object for {@code key}: committed by close, given up by abort. */
    FileUpload create(String key) throws IOException {
        return store.create(name(key));
    }

    BinaryContent content(String key, long size) {
        return store.content(name(key), size);
    }

    void delete(String key) throws IOException {
        store.delete(name(key));
    }
}
