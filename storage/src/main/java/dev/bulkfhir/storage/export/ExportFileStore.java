package dev.bulkfhir.storage.export;

import dev.bulkfhir.storage.binary.BinaryContent;
import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.files.FileUpload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Where export files live: {@code export/<job id>/<file id>.ndjson} in the file store (a location
 * in the database is the part after {@code export/}). Job and file ids are random (128 bits,
 * generated here); every name is checked against its pattern before it becomes a key, so nothing a
 * client sends can reach outside the store.
 */
public final class ExportFileStore {

    /** A job id: 32 lower-case hex digits. */
    private static final Pattern JOB_ID = Pattern.compile("[0-9a-f]{32}");
    /** An export file's Binary id; the prefix keeps these ids apart from stored Binaries. */
    private static final Pattern FILE_ID = Pattern.compile("bulk-[0-9a-f]{32}");
    private static final Pattern LOCATION = Pattern.compile("([0-9a-f]{32})/(bulk-[0-9a-f]{32})\\.ndjson");
    private static final String FOLDER = "export/";
    private static final SecureRandom RANDOM = new SecureRandom();
    static final int BUFFER_SIZE = 256 * 1024;

    private final FileStore files;

    public ExportFileStore(FileStore files) {
        this.files = files;
    }

    /** Where the files are, for logs. */
    public String describe() {
        return files.describe();
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

    static String location(String jobId, String fileId) {
        return jobId + "/" + fileId + ".ndjson";
    }

    /** A new file of the job: committed by its close, given up by its abort. */
    FileUpload create(String location) throws IOException {
        return files.create(key(location));
    }

    public void delete(String location) throws IOException {
        files.delete(key(location));
    }

    /** The content of a finished file, for download. */
    public BinaryContent content(String location, long size) {
        return files.content(key(location), size);
    }

    /** Deletes every file of a job (a cancelled, failed or expired job). */
    public void deleteJob(String jobId) {
        try {
            files.deleteAll(jobFolder(jobId));
        } catch (IOException e) {
            throw new UncheckedIOException("Could not delete the files of export " + jobId, e);
        }
    }

    /** Deletes the job's files whose locations are not in {@code keep}: partial output of a dead worker. */
    public void deleteUnlisted(String jobId, Set<String> keep) {
        try {
            for (String key : files.list(jobFolder(jobId))) {
                if (!keep.contains(key.substring(FOLDER.length()))) {
                    files.delete(key);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Could not clean the files of export " + jobId, e);
        }
    }

    /** The key of a location read back from the database, after checking its shape again. */
    private static String key(String location) {
        if (location == null || !LOCATION.matcher(location).matches()) {
            throw new IllegalArgumentException("Not an export file location: " + location);
        }
        return FOLDER + location;
    }

    private static String jobFolder(String jobId) {
        if (!isJobId(jobId)) {
            throw new IllegalArgumentException("Not an export job id: " + jobId);
        }
        return FOLDER + jobId + "/";
    }
}
