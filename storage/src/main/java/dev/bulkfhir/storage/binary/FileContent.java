package dev.bulkfhir.storage.binary;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Content in a file (the Binary file store's, or an export file), opened anew for each copy so
 * that many readers can share it.
 */
public record FileContent(Path file, long size) implements BinaryContent {

    /** Mapped a slice at a time: address space, not heap, and released as the slices are collected. */
    private static final long MAPPED_SLICE = 16L * 1024 * 1024;

    @Override
    public boolean isAvailable() {
        try {
            return Files.size(file) >= size;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void copyTo(BufferSink sink, long offset, long length) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            if (channel.size() < offset + length) {
                throw new IOException("File " + file.getFileName() + " is shorter than recorded");
            }
            for (long position = offset, end = offset + length; position < end; ) {
                long slice = Math.min(MAPPED_SLICE, end - position);
                sink.write(channel.map(FileChannel.MapMode.READ_ONLY, position, slice));
                position += slice;
            }
        }
    }

    @Override
    public void copyTo(OutputStream out, long offset, long length) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(ContentFiles.BUFFER_SIZE, Math.max(length, 1)));
            long position = offset;
            long remaining = length;
            while (remaining > 0) {
                buffer.clear().limit((int) Math.min(buffer.capacity(), remaining));
                int read = channel.read(buffer, position);
                if (read < 0) {
                    throw new IOException("File " + file.getFileName() + " is shorter than recorded");
                }
                out.write(buffer.array(), 0, read);
                position += read;
                remaining -= read;
            }
        }
    }
}
