package dev.bulkfhir.storage.export;

import dev.bulkfhir.storage.binary.BinaryContent;
import dev.bulkfhir.storage.binary.FileContent;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Where export files live: {@code <root>/<job id>/<file id>.ndjson}. Job and file ids are random
 * (128 bits, generated here); every name is checked against its pattern before it becomes a path, so
 * nothing a client sends can reach outside the store.
 */
public final class ExportFileStore {

    /** A job id: 32 lower-case hex digits. */
    private static final Pattern JOB_ID = Pattern.compile("[0-9a-f]{32}");
    /** An export file's Binary id; the prefix keeps these ids apart from stored Binaries. */
    private static final Pattern FILE_ID = Pattern.compile("bulk-[0-9a-f]{32}");
    private static final Pattern LOCATION = Pattern.compile("([0-9a-f]{32})/(bulk-[0-9a-f]{32})\\.ndjson");
    private static final SecureRandom RANDOM = new SecureRandom();
    static final int BUFFER_SIZE = 256 * 1024;

    private final Path root;

    public ExportFileStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    public static String newJobId() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    static String newFileId() {
        return "bulk-" + newJobId();
    }

    public static boolean isJobId(String id) {
        return id != null && JOB_ID.matcher(id).matches();
    }

    /**
     * Whether {@code id} has the shape of an export file's Binary id (whether or not such a file exists).
     * This is the one rule for the reserved Binary id space: reads look only here for such ids, and
     * every write of a Binary with such an id is refused.
     */
    public static boolean isFileId(String id) {
        return id != null && FILE_ID.matcher(id).matches();
    }

    /** A new file of the job, created exclusively; returns its location (relative to the store). */
    String create(String jobId, String fileId) throws IOException {
        String location = jobId + "/" + fileId + ".ndjson";
        Path file = resolve(location);
        Files.createDirectories(file.getParent());
        Files.createFile(file);
        return location;
    }

    /**
     * A new working file in the job's folder, for the caller to delete; a resumed job's
     * {@link #deleteUnlisted} removes one that a dead worker left.
     */
    public Path scratch(String jobId) throws IOException {
        return resolve(create(jobId, newFileId()));
    }

    OutputStream openForWrite(String location) throws IOException {
        return Files.newOutputStream(resolve(location), StandardOpenOption.WRITE);
    }

    /** The file at a location read back from the database, after checking its shape again. */
    public Path resolve(String location) {
        if (location == null || !LOCATION.matcher(location).matches()) {
            throw new IllegalArgumentException("Not an export file location: " + location);
        }
        return root.resolve(location);
    }

    /** The content of a finished file, for download. */
    public BinaryContent content(String location, long size) {
        return new FileContent(resolve(location), size);
    }

    /** Deletes every file of a job and its folder (a cancelled, failed or expired job). */
    public void deleteJob(String jobId) {
        deleteUnlisted(jobId, Set.of());
        Path folder = jobFolder(jobId);
        try {
            Files.deleteIfExists(folder);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not delete " + folder, e);
        }
    }

    /** Deletes the job's files whose locations are not in {@code keep}: partial output of a dead worker. */
    public void deleteUnlisted(String jobId, Set<String> keep) {
        Path folder = jobFolder(jobId);
        if (!Files.isDirectory(folder)) {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder)) {
            for (Path file : files) {
                if (!keep.contains(jobId + "/" + file.getFileName())) {
                    Files.deleteIfExists(file);
                }
            }
        } catch (NoSuchFileException e) {
            // deleted meanwhile: nothing left to do
        } catch (IOException e) {
            throw new UncheckedIOException("Could not clean " + folder, e);
        }
    }

    private Path jobFolder(String jobId) {
        if (!isJobId(jobId)) {
            throw new IllegalArgumentException("Not an export job id: " + jobId);
        }
        return root.resolve(jobId);
    }
}
