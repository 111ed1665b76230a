package dev.bulkfhir.storage.binary;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Content received but not yet attached to a Binary version: in memory when small, otherwise in the
 * file store under a generated name. It belongs to whoever staged it until a write commits it; a
 * write that fails must {@link #discard()} it.
 */
public final class StagedContent {

    private final byte[] inline;
    private final String storeKey;
    private final ContentFiles files;
    private final long size;

    private StagedContent(byte[] inline, String storeKey, ContentFiles files, long size) {
        this.inline = inline;
        this.storeKey = storeKey;
        this.files = files;
        this.size = size;
    }

    static StagedContent inline(byte[] bytes) {
        return new StagedContent(bytes, null, null, bytes.length);
    }

    static StagedContent stored(String storeKey, ContentFiles files, long size) {
        return new StagedContent(null, storeKey, files, size);
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

    /** Removes the staged object, if any. Harmless to call more than once. */
    public void discard() {
        if (storeKey == null) {
            return;
        }
        try {
            files.delete(storeKey);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not remove staged content " + storeKey, e);
        }
    }
}
