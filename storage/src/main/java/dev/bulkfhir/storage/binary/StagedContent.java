package dev.bulkfhir.storage.binary;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Content received but not yet attached to a Binary version: in memory when small, otherwise in a
 * file of the store under a generated name. It belongs to whoever staged it until a write commits
 * it; a write that fails must {@link #discard()} it.
 */
public final class StagedContent {

    private final byte[] inline;
    private final String storeKey;
    private final Path file;
    private final long size;

    private StagedContent(byte[] inline, String storeKey, Path file, long size) {
        this.inline = inline;
        this.storeKey = storeKey;
        this.file = file;
        this.size = size;
    }

    static StagedContent inline(byte[] bytes) {
        return new StagedContent(bytes, null, null, bytes.length);
    }

    static StagedContent stored(String storeKey, Path file, long size) {
        return new StagedContent(null, storeKey, file, size);
    }

    public long size() {
        return size;
    }

    /** The content in memory, or null when it is in the file store. */
    byte[] inlineBytes() {
        return inline;
    }

    /** The file store name, or null when the content is inline. */
    String storeKey() {
        return storeKey;
    }

    /** Removes the staged file, if any. Harmless to call more than once. */
    public void discard() {
        if (file == null) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not remove staged content " + file, e);
        }
    }
}
