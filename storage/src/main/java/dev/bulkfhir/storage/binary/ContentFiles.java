package dev.bulkfhir.storage.binary;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The file store for large content: one file per Binary version, named by a random key the server
 * generates (32 hex digits, fanned out into 256 folders by its first two). No client-supplied text
 * ever becomes part of a path, and a key read back from the database is checked again before use,
 * so nothing outside the store's folder can be reached.
 */
final class ContentFiles {

    private static final Pattern KEY = Pattern.compile("[0-9a-f]{32}");
    /** Large enough for few system calls per megabyte, small enough to keep memory flat. */
    static final int BUFFER_SIZE = 128 * 1024;

    private final Path root;

    ContentFiles(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    Path root() {
        return root;
    }

    static String newKey() {
        return UUID.randomUUID().toString().replace("-", "");
    }

    Path path(String key) {
        if (key == null || !KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("Not a file store key: " + key);
        }
        return root.resolve(key.substring(0, 2)).resolve(key);
    }

    /** A new, empty file for {@code key}, created exclusively so that nothing is ever overwritten. */
    OutputStream create(String key) throws IOException {
        Path file = path(key);
        Files.createDirectories(file.getParent());
        return Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }
}
