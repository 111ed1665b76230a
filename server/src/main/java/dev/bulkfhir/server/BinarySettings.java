package dev.bulkfhir.server;

import dev.bulkfhir.providers.binary.BinaryAccessSettings;
import dev.bulkfhir.storage.binary.BinaryStore;

/**
 * @param inlineThreshold content up to this many bytes stays in the database; larger goes to the
 *                        file store under the data directory
 * @param maxWrapped      the most content a wrapped (base64) read or FHIR-format upload may carry
 */
public record BinarySettings(int inlineThreshold, long maxWrapped) {

    public BinarySettings {
        if (inlineThreshold < 0 || inlineThreshold > 1024 * 1024) {
            throw new IllegalArgumentException("The Binary inline threshold must be 0 to 1048576 bytes, not "
                    + inlineThreshold);
        }
        if (maxWrapped < 0) {
            throw new IllegalArgumentException("The wrapped Binary cap must not be negative, not " + maxWrapped);
        }
    }

    public static BinarySettings defaults() {
        return new BinarySettings(BinaryStore.DEFAULT_INLINE_THRESHOLD,
                BinaryAccessSettings.DEFAULT_MAX_WRAPPED_CONTENT);
    }
}
