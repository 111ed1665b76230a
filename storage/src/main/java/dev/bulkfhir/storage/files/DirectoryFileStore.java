package dev.bulkfhir.storage.files;

import dev.bulkfhir.storage.binary.BinaryContent;
import dev.bulkfhir.storage.binary.FileContent;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Objects as files under one folder. Several nodes can share it (NFS or another shared volume):
 * every file is created exclusively under a fresh random name and forced to disk before its
 * database row commits, so no node ever sees a file another is still writing.
 */
final class DirectoryFileStore implements FileStore {

    /**
     * Every {@link #FORCE_EVERY} bytes, a file's bytes so far are forced to disk on another thread while
     * its writer goes on, so that the force at close, which the writer waits for, has little left to
     * write out: forcing whole export files at close took a tenth of an export worker's time.
     */
    static final long FORCE_EVERY = 8L << 20;
    private static final ExecutorService FORCING = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "file-force");
        thread.setDaemon(true);
        return thread;
    });

    private final Path root;

    DirectoryFileStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    @Override
    public FileUpload create(String key) throws IOException {
        Path file = resolve(key);
        Files.createDirectories(file.getParent());
        return new Upload(file, FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    }

    private static final class Upload extends FileUpload {
        private final Path file;
        private final FileChannel channel;
        private long unforced;
        private Future<?> forcing;
        private boolean closed;

        Upload(Path file, FileChannel channel) {
            this.file = file;
            this.channel = channel;
        }

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
            unforced += length;
            if (unforced >= FORCE_EVERY && (forcing == null || forcing.isDone())) {
                unforced = 0;
                forcing = FORCING.submit(() -> {
                    channel.force(false);
                    return null;
                });
            }
        }

        @Override
        public void close() throws IOException {
            if (closed) return;
            closed = true;
            try (channel) {
                awaitForcing();
                // On disk before the row that points at it commits: a crash cannot leave a short file.
                channel.force(true);
            }
        }

        @Override
        public void abort() {
            closed = true;
            try {
                awaitForcing();
            } catch (IOException e) {
                // interrupted: the channel closes all the same, failing the background force harmlessly
            }
            try {
                channel.close();
                Files.deleteIfExists(file);
            } catch (IOException e) {
                // the file is unreferenced: at worst it stays as litter
            }
        }

        private void awaitForcing() throws IOException {
            if (forcing == null) return;
            try {
                forcing.get();
            } catch (ExecutionException e) {
                // A disk that fails the background force fails the force at close too, which reports it.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("Interrupted while forcing " + file + " to disk");
            }
        }
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
