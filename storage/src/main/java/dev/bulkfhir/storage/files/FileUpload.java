package dev.bulkfhir.storage.files;

import java.io.OutputStream;

/**
 * An object being written. {@link #close()} commits it (durably: on disk, or uploaded whole); on a
 * failure call {@link #abort()} instead, which leaves nothing behind. Not thread-safe.
 */
public abstract class FileUpload extends OutputStream {

    /** Gives the object up: nothing of it remains. Harmless after close or a previous abort. */
    public abstract void abort();
}
