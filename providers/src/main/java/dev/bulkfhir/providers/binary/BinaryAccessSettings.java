package dev.bulkfhir.providers.binary;

/**
 * Limits of the Binary endpoint.
 *
 * @param maxWrappedContent the most content, in bytes, a wrapped (base64 FHIR) Binary may carry, in a
 *                          read, a search page or a FHIR-format upload. Base64 in JSON costs about
 *                          three times the content in memory, so larger content must travel natively.
 */
public record BinaryAccessSettings(long maxWrappedContent) {

    /** 10 MiB: the size up to which HAPI's JPA server inflates externalized Binaries, too. */
    public static final long DEFAULT_MAX_WRAPPED_CONTENT = 10L * 1024 * 1024;

    public BinaryAccessSettings {
        if (maxWrappedContent < 0) {
            throw new IllegalArgumentException("The wrapped Binary cap must not be negative, not " + maxWrappedContent);
        }
    }

    public static BinaryAccessSettings defaults() {
        return new BinaryAccessSettings(DEFAULT_MAX_WRAPPED_CONTENT);
    }
}
