package dev.bulkfhir.providers.binary;

import dev.bulkfhir.storage.binary.BinaryContent;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;

/**
 * Servlet 6.0 streams take only byte arrays, which costs two copies through the heap per chunk of
 * a download. Jetty's servlet output (and any Servlet 6.1 container's) also has a public
 * {@code write(ByteBuffer)}; a mapped file region written there goes from the page cache to the
 * socket directly. Where a container has no such method, downloads use byte arrays.
 */
final class BufferWriting {

    private static final MethodType WRITE = MethodType.methodType(void.class, ByteBuffer.class);

    private static final ClassValue<MethodHandle> WRITERS = new ClassValue<>() {
        @Override
        protected MethodHandle computeValue(Class<?> type) {
            try {
                return MethodHandles.publicLookup().findVirtual(type, "write", WRITE);
            } catch (NoSuchMethodException | IllegalAccessException e) {
                return null;
            }
        }
    };

    private BufferWriting() {
    }

    /** A sink writing buffers to {@code out}, or null if its class cannot take them. */
    static BinaryContent.BufferSink sinkFor(OutputStream out) {
        MethodHandle write = WRITERS.get(out.getClass());
        if (write == null) {
            return null;
        }
        return buffer -> {
            try {
                write.invoke(out, buffer);
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IOException(e);
            }
        };
    }
}
