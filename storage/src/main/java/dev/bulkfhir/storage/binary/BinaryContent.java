package dev.bulkfhir.storage.binary;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.Optional;

/** The bytes of one Binary version, copied out in slices so that any size streams in constant memory. */
public interface BinaryContent {

    long size();

    /** Whether all {@link #size()} bytes can be read: false if the file holding them is gone or cut short. */
    default boolean isAvailable() {
        return true;
    }

    /** Writes {@code length} bytes starting at {@code offset} (both within {@link #size()}) to {@code out}. */
    void copyTo(OutputStream out, long offset, long length) throws IOException;

    /** A destination that takes buffers, e.g. a servlet output that writes them to the socket as they are. */
    @FunctionalInterface
    interface BufferSink {
        void write(ByteBuffer buffer) throws IOException;
    }

    /**
     * Like {@link #copyTo(OutputStream, long, long)}, into a sink that takes buffers: content in a
     * file then goes from the page cache to the sink without passing through the Java heap.
     */
    default void copyTo(BufferSink sink, long offset, long length) throws IOException {
        copyTo(new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                sink.write(ByteBuffer.wrap(new byte[] {(byte) b}));
            }

            @Override
            public void write(byte[] bytes, int off, int len) throws IOException {
                sink.write(ByteBuffer.wrap(bytes, off, len));
            }
        }, offset, length);
    }

    /**
     * A short-lived URL where the client may fetch these bytes itself (a presigned object-store URL),
     * when the store hands downloads off; empty: the server streams them. The response there carries
     * the given Content-Type and Content-Disposition.
     */
    default Optional<URI> downloadUrl(String contentType, String contentDisposition) {
        return Optional.empty();
    }

    /** All of it in memory: only for content the caller has checked to be small. */
    default byte[] readAllBytes() throws IOException {
        if (size() > Integer.MAX_VALUE - 8) {
            throw new IOException("Content of " + size() + " bytes does not fit in one array");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) size());
        copyTo(out, 0, size());
        return out.toByteArray();
    }

    static BinaryContent of(byte[] bytes) {
        return new InlineContent(bytes);
    }

    /** Content held in memory (small content read from the database, or tests). */
    record InlineContent(byte[] bytes) implements BinaryContent {

        @Override
        public long size() {
            return bytes.length;
        }

        @Override
        public void copyTo(OutputStream out, long offset, long length) throws IOException {
            out.write(bytes, Math.toIntExact(offset), Math.toIntExact(length));
        }

        @Override
        public byte[] readAllBytes() {
            return bytes.clone();
        }
    }
}
