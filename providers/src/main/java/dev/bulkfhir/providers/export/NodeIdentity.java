package dev.bulkfhir.providers.export;

import dev.bulkfhir.storage.export.ExportFileStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * This node's name in job leases, kept in {@code <data dir>/export/node-id} (node-local, never on
 * shared storage, where file locks cannot be trusted) and locked while the server
 * runs. A server restarted on the same directory gets the same name back, so it knows at once that
 * the jobs leased to that name are nobody's (it has just started) and resumes them without waiting
 * for their leases to run out. A second server on the same directory finds the lock taken and uses a
 * fresh name of its own.
 */
final class NodeIdentity implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeIdentity.class);

    private final String id;
    private final FileChannel channel;
    private final FileLock lock;

    private NodeIdentity(String id, FileChannel channel, FileLock lock) {
        this.id = id;
        this.channel = channel;
        this.lock = lock;
    }

    static NodeIdentity acquire(Path directory) {
        try {
            Files.createDirectories(directory);
            Path file = directory.resolve("node-id");
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                channel.close();
                String ephemeral = fresh();
                log.warn("Another server uses {} already; this one leases export jobs as {}", directory, ephemeral);
                return new NodeIdentity(ephemeral, null, null);
            }
            ByteBuffer buffer = ByteBuffer.allocate(128);
            channel.read(buffer, 0);
            String id = new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).trim();
            if (!id.matches("[A-Za-z0-9.-]{1,64}")) {
                id = fresh();
                channel.truncate(0);
                channel.write(ByteBuffer.wrap(id.getBytes(StandardCharsets.UTF_8)), 0);
                channel.force(true);
            }
            return new NodeIdentity(id, channel, lock);
        } catch (IOException e) {
            String ephemeral = fresh();
            log.warn("Cannot keep a node id in {} ({}); leasing export jobs as {}", directory, e.toString(), ephemeral);
            return new NodeIdentity(ephemeral, null, null);
        }
    }

    private static String fresh() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]", "");
        } catch (IOException e) {
            host = "node";
        }
        if (host.length() > 30) host = host.substring(0, 30);
        return (host.isEmpty() ? "node" : host) + "-" + ExportFileStore.newJobId().substring(0, 12);
    }

    String id() {
        return id;
    }

    @Override
    public void close() {
        try {
            if (lock != null) lock.release();
            if (channel != null) channel.close();
        } catch (IOException e) {
            // the process is going away anyway
        }
    }
}
