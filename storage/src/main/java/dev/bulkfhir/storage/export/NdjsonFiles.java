package dev.bulkfhir.storage.export;

import dev.bulkfhir.storage.files.FileUpload;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The NDJSON output of one resource type of one job: lines go to the current file, and a new file
 * starts when it holds {@code maxResources} lines or would pass {@code maxBytes}. Files are created on
 * the first line, so a type without data leaves no file. Not thread-safe: one writer per type.
 */
public final class NdjsonFiles implements AutoCloseable {

    private final ExportFileStore store;
    private final String jobId;
    private final String type;
    private final boolean errorFile;
    private final boolean deletedFile;
    private final long maxResources;
    private final long maxBytes;
    private final List<ExportFile> files = new ArrayList<>();
    private final List<String> created = new ArrayList<>();

    private String fileId;
    private String location;
    private FileUpload upload;
    private OutputStream out;
    private long count;
    /** Lines of the current file: its resources and, in organized output, its block headers. */
    private long lines;
    private long bytes;
    private boolean finished;
    /** The id the next file gets, when the current one names it as its continuation. */
    private String nextFileId;
    private String continuesIn;

    /**
     * @param type      the resource type of every line (OperationOutcome for an error file)
     * @param errorFile whether the files are the manifest's {@code error} entries
     */
    public NdjsonFiles(ExportFileStore store, String jobId, String type, boolean errorFile, long maxResources,
            long maxBytes) {
        this(store, jobId, type, errorFile, maxResources, maxBytes, false);
    }

    /** @param deletedFile whether the files are the manifest's {@code deleted} entries (then type is Bundle) */
    public NdjsonFiles(ExportFileStore store, String jobId, String type, boolean errorFile, long maxResources,
            long maxBytes, boolean deletedFile) {
        if (maxResources < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("File limits must be positive");
        }
        this.store = store;
        this.jobId = jobId;
        this.type = type;
        this.errorFile = errorFile;
        this.deletedFile = deletedFile;
        this.maxResources = maxResources;
        this.maxBytes = maxBytes;
    }

    /** Appends one resource (its JSON, without a line break) and the newline. */
    public void write(byte[] json) throws IOException {
        write(json, 0, json.length);
    }

    public void write(byte[] json, int offset, int length) throws IOException {
        if (out != null && !fits(1, length + 1)) {
            closeCurrent();
        }
        line(json, offset, length);
    }

    /** A line in the open file (or a new one) whatever the limits: the caller checked {@link #fits}. */
    public void append(byte[] json) throws IOException {
        line(json, 0, json.length);
    }

    /**
     * A resource block's header line (organized output), as {@link #append}: it counts towards the file's
     * line limit but not as a resource of the file's count (clients count resources without headers).
     */
    public void appendHeader(byte[] json) throws IOException {
        line(json, 0, json.length);
        count--;
    }

    /** Whether {@code lineCount} more lines of {@code length} bytes in all fit the open file (or an empty one). */
    public boolean fits(long lineCount, long length) {
        return out == null ? lineCount <= maxResources && length <= maxBytes
                : lines + lineCount <= maxResources && bytes + length <= maxBytes;
    }

    /** Whether a file is open and has lines. */
    public boolean started() {
        return out != null && lines > 0;
    }

    /**
     * Ends the open file here, so that the next line begins a new one; with {@code continues}, the file
     * records that new one as the file its last block goes on in.
     */
    public void cut(boolean continues) throws IOException {
        if (out == null) return;
        if (continues) {
            nextFileId = ExportFileStore.newFileId();
            continuesIn = nextFileId;
        }
        closeCurrent();
    }

    private void line(byte[] json, int offset, int length) throws IOException {
        if (out == null) {
            open();
        }
        out.write(json, offset, length);
        out.write('\n');
        count++;
        lines++;
        bytes += length + 1;
    }

    /** Closes the last file and returns one row per file, to be recorded with the type's completion. */
    public List<ExportFile> finish() throws IOException {
        if (out != null) {
            closeCurrent();
        }
        finished = true;
        return List.copyOf(files);
    }

    /** Gives up: closes and deletes every file written so far. */
    public void abort() {
        if (upload != null) upload.abort();
        upload = null;
        out = null;
        for (String file : created) {
            try {
                store.delete(file);
            } catch (IOException e) {
                throw new UncheckedIOException("Could not delete " + file, e);
            }
        }
    }

    /** Without a {@link #finish()} before, the output is incomplete: its files are deleted. */
    @Override
    public void close() {
        if (!finished) {
            abort();
        }
    }

    private void open() throws IOException {
        fileId = nextFileId != null ? nextFileId : ExportFileStore.newFileId();
        nextFileId = null;
        location = ExportFileStore.location(jobId, fileId);
        upload = store.create(location);
        created.add(location);
        out = new BufferedOutputStream(upload, ExportFileStore.BUFFER_SIZE);
        count = 0;
        lines = 0;
        bytes = 0;
    }

    private void closeCurrent() throws IOException {
        // Committed (on disk, or uploaded whole) before its row commits: a recorded file is never short.
        out.close();
        out = null;
        upload = null;
        files.add(new ExportFile(fileId, jobId, type, files.size() + 1, count, bytes, location, errorFile,
                Instant.now(), deletedFile, continuesIn));
        continuesIn = null;
    }
}
