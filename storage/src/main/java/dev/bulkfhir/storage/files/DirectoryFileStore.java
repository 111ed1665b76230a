package dev.bulkfhir.storage.files;

import dev.bulkfhir.storage.binary.BinaryContent;
import dev.bulkfhir.storage.binary.FileContent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Objects as files under one folder. Several nodes can share it (NFS or another shared volume):
 * every file is created exclusively under a fresh random name and forced to disk before its
 * database row commits, so no node ever sees a file another is still writing.
 */
final class DirectoryFileStore implements FileStore {

    private final Path root;

    DirectoryFileStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    @Override
    public FileUpload create(String key) throws IOException {
        Path file = resolve(key);
        Files.createDirectories(file.getParent());
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new FileUpload() {
            private boolean closed;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) throws IOException {
                ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            }

            @Override
            public void close() throws IOException {
                if (closed) return;
                closed = true;
                try (channel) {
                    // On disk before the row that points at it commits: a crash cannot leave a short file.
                    channel.force(true);
                }
            }

            @Override
            public void abort() {
                closed = true;
                try {
                    channel.close();
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    // the file is unreferenced: at worst it stays as litter
                }
            }
        };
    }

    @Override
    public BinaryContent content(String key, long size) {
        return new FileContent(resolve(key), size);
    }

    @Override
    public void delete(String key) throws IOException {
        Files.deleteIfExists(resolve(key));
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        Path folder = folder(prefix);
        List<String> keys = new ArrayList<>();
        if (!Files.isDirectory(folder)) {
            return keys;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder)) {
            for (Path file : files) {
                if (Files.isRegularFile(file)) {
                    keys.add(prefix + file.getFileName());
                }
            }
        } catch (NoSuchFileException e) {
            // deleted meanwhile
        }
        return keys;
    }

    /** The objects and then the folder itself. */
    @Override
    public void deleteAll(String prefix) throws IOException {
        FileStore.super.deleteAll(prefix);
        try {
            Files.deleteIfExists(folder(prefix));
        } catch (java.nio.file.DirectoryNotEmptyException e) {
            // a file was added meanwhile (cannot happen for a finished job's folder): leave it
        }
    }

    @Override
    public String describe() {
        return root.toString();
    }

    /** The file for a key; the key never leaves the root (our keys are generated, this is a second check). */
    private Path resolve(String key) {
        Path file = root.resolve(key).normalize();
        if (key.isEmpty() || key.endsWith("/") || !file.startsWith(root) || file.equals(root)) {
            throw new IllegalArgumentException("Not a file store key: " + key);
        }
        return file;
    }

    private Path folder(String prefix) {
        if (!prefix.endsWith("/")) {
            throw new IllegalArgumentException("Not a folder prefix: " + prefix);
        }
        return resolve(prefix.substring(0, prefix.length() - 1));
    }
}
