package dev.bulkfhir.storage.export;

import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;

import java.util.Optional;

/**
 * Export files in the Binary id space, read-only, as {@code application/fhir+ndjson}: so that
 * {@code GET Binary/[id]}, {@code $binary-access-read} and {@code $export-download} all serve them.
 * Files of COMPLETED jobs are served, and those a running job has recorded complete (a partial
 * manifest lists them); those of EXPIRED jobs are reported deleted (410 Gone).
 * Ownership is checked before this is asked (see the export download guard in providers).
 */
public final class ExportBinarySource implements BinarySource {

    public static final String CONTENT_TYPE = "application/fhir+ndjson";

    private final ExportJobRepository jobs;
    private final ExportFileStore store;

    public ExportBinarySource(ExportJobRepository jobs, ExportFileStore store) {
        this.jobs = jobs;
        this.store = store;
    }

    @Override
    public Optional<BinaryDocument> find(String id, Long version) {
        if (!ExportFileStore.isFileId(id) || (version != null && version != 1L)) {
            return Optional.empty();
        }
        return jobs.findFile(id).flatMap(owned -> {
            ExportFile file = owned.file();
            String filename = (file.deletedFile() ? "deleted-" : "") + file.type() + "-" + file.seq() + ".ndjson";
            return switch (owned.job().state()) {
                case COMPLETED, IN_PROGRESS -> Optional.of(new BinaryDocument(id, 1, file.createdAt(), false, CONTENT_TYPE, null,
                        filename, null, store.content(file.location(), file.byteCount())));
                case EXPIRED -> Optional.of(new BinaryDocument(id, 1, file.createdAt(), true, CONTENT_TYPE, null,
                        filename, null, null));
                default -> Optional.empty();
            };
        });
    }

    /** Every id of the export shape is reserved, so that no client can create a Binary that looks like one. */
    @Override
    public boolean isReadOnly(String id) {
        return ExportFileStore.isFileId(id);
    }
}
