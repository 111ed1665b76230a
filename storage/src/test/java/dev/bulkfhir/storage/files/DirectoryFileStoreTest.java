package dev.bulkfhir.storage.files;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DirectoryFileStoreTest {

    @Test
    void writesReadsListsAndDeletes(@TempDir Path root) throws Exception {
        FileStore store = FileStore.directory(root);
        try (FileUpload upload = store.create("export/job/a.ndjson")) {
            upload.write("hello world".getBytes(StandardCharsets.UTF_8));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        store.content("export/job/a.ndjson", 11).copyTo(out, 6, 5);
        assertEquals("world", out.toString(StandardCharsets.UTF_8));
        assertTrue(store.content("export/job/a.ndjson", 11).isAvailable());
        assertFalse(store.content("export/job/a.ndjson", 12).isAvailable(), "shorter than recorded");

        FileUpload aborted = store.create("export/job/b.ndjson");
        aborted.write(1);
        aborted.abort();
        assertEquals(List.of("export/job/a.ndjson"), store.list("export/job/"));
        assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> store.create("export/job/a.ndjson"));

        store.deleteAll("export/job/");
        assertEquals(List.of(), store.list("export/job/"));
        assertFalse(Files.exists(root.resolve("export/job")), "the folder goes too");
    }

    @Test
    void largeFilesForcedAlongTheWayKeepEveryByte(@TempDir Path root) throws Exception {
        FileStore store = FileStore.directory(root);
        byte[] chunk = new byte[64 * 1024];
        long size = 3 * DirectoryFileStore.FORCE_EVERY + 12_345; // several background forces, then a tail
        MessageDigest written = MessageDigest.getInstance("SHA-256");
        try (FileUpload upload = store.create("export/job/big.ndjson")) {
            for (long left = size, i = 0; left > 0; i++) {
                Arrays.fill(chunk, (byte) i);
                int length = (int) Math.min(chunk.length, left);
                upload.write(chunk, 0, length);
                written.update(chunk, 0, length);
                left -= length;
            }
        }
        assertEquals(size, Files.size(root.resolve("export/job/big.ndjson")));
        assertArrayEquals(written.digest(),
                MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(root.resolve("export/job/big.ndjson"))));

        // Given up after a background force: nothing remains.
        FileUpload aborted = store.create("export/job/given-up.ndjson");
        for (int i = 0; i * chunk.length < 2 * DirectoryFileStore.FORCE_EVERY; i++) {
            aborted.write(chunk);
        }
        aborted.abort();
        assertEquals(List.of("export/job/big.ndjson"), store.list("export/job/"));
    }

    @Test
    void keysCannotLeaveTheRoot(@TempDir Path root) {
        FileStore store = FileStore.directory(root.resolve("store"));
        assertThrows(IllegalArgumentException.class, () -> store.create("../outside"));
        assertThrows(IllegalArgumentException.class, () -> store.content("/etc/passwd", 1));
        assertThrows(IllegalArgumentException.class, () -> store.list("export"));
    }
}
