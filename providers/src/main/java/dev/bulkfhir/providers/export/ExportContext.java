package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.providers.audit.AuditSink;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.export.NdjsonFiles;
import dev.bulkfhir.storage.source.ResourceSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What export's runs and operations work with, built once by the {@link ExportEngine}: the job table,
 * the file store, the source, the settings, where metrics and audit records go, and this node.
 *
 * @param node    this node's name in job leases
 * @param scratch node-local working files (organized output's spill), never on the shared store
 */
record ExportContext(FhirContext fhir, ExportJobRepository jobs, ExportFileStore files, ResourceSource source,
        ExportSettings settings, ExportTypes types, ExportMetrics metrics, AuditSink audit, String node,
        Path scratch) {

    /** A job's new output files of {@code type}, within the configured file limits. */
    NdjsonFiles outputFiles(String jobId, String type) {
        return new NdjsonFiles(files, jobId, type, false, settings.fileMaxResources(), settings.fileMaxBytes());
    }

    /** A job's new error files (OperationOutcome lines), within the configured file limits. */
    NdjsonFiles errorFiles(String jobId) {
        return new NdjsonFiles(files, jobId, "OperationOutcome", true, settings.fileMaxResources(),
                settings.fileMaxBytes());
    }

    /** A job's new files of deletions (_since), within the configured file limits. */
    NdjsonFiles deletionFiles(String jobId) {
        return new NdjsonFiles(files, jobId, "Bundle", false, settings.fileMaxResources(), settings.fileMaxBytes(),
                true);
    }

    /** A new node-local working file, for the caller to delete. */
    Path newScratchFile() throws IOException {
        return Files.createTempFile(Files.createDirectories(scratch), "blocks-", ".tmp");
    }
}
