package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.RestfulServer;
import dev.bulkfhir.providers.ServerBase;
import dev.bulkfhir.providers.audit.AuditSink;
import dev.bulkfhir.storage.binary.BinarySource;
import dev.bulkfhir.storage.export.ExportBinarySource;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.source.ResourceSource;

import io.micrometer.core.instrument.MeterRegistry;

import javax.sql.DataSource;
import java.nio.file.Path;
import java.time.Instant;

/**
 * Bulk Data export: the job table, the workers and the operations. {@code BulkFhirPlugin} wires it
 * together with Binary access (which serves the files) and authorization.
 *
 * The job table lives in {@code dataSource} (migrated by {@code Database.migrate}); files in
 * {@code files}. Several servers may share one database; they must share the file store too (a
 * shared directory or an object store: files are served by whichever node a download reaches).
 */
public final class BulkExport implements AutoCloseable {

    private final ExportJobRepository jobs;
    private final ExportEngine engine;
    private final ExportBinarySource binaries;
    private ClientIdentity identity = ClientIdentity.anonymous();

    private BulkExport(ExportJobRepository jobs, ExportEngine engine, ExportBinarySource binaries) {
        this.jobs = jobs;
        this.engine = engine;
        this.binaries = binaries;
    }

    /**
     * Opens the job table and starts the workers, which resume unfinished jobs at once.
     *
     * @param nodeDirectory this node's own folder (never shared): it keeps the node's name in job leases
     * @param meters        where the export's metrics go
     * @param audit         where kickoffs, completions, cancels and expiries are recorded
     */
    public static BulkExport start(DataSource dataSource, ResourceSource source, FileStore fileStore,
            Path nodeDirectory, FhirContext context, ExportSettings settings, MeterRegistry meters, AuditSink audit) {
        ExportJobRepository jobs = ExportJobRepository.open(dataSource);
        try {
            ExportFileStore files = new ExportFileStore(fileStore);
            ExportEngine engine = new ExportEngine(context, jobs, files, nodeDirectory, source, settings, meters,
                    audit);
            engine.start();
            return new BulkExport(jobs, engine, new ExportBinarySource(jobs, files));
        } catch (RuntimeException e) {
            jobs.close();
            throw e;
        }
    }

    /** Who owns the jobs a request starts (default: everyone is {@link ExportClient#ANONYMOUS}); set before {@link #install}. */
    public BulkExport identity(ClientIdentity value) {
        this.identity = value;
        return this;
    }

    /**
     * When the workers' claim loop last began a pass (null before its first): it runs every half
     * second, so an old value means the export workers are stuck or gone.
     */
    public Instant lastClaimPass() {
        return engine.lastClaimPass();
    }

    /** The export files as Binaries, for {@code BinaryAccess.withSource}. */
    public BinarySource binarySource() {
        return binaries;
    }

    /**
     * Registers the operations, the download ownership check and the CapabilityStatement declaration.
     * {@code base} is the base URL written into status and manifest URLs.
     */
    public void install(RestfulServer server, ServerBase base) {
        server.registerProvider(new KickoffOperation(engine, identity, base));
        server.registerProvider(new PollStatusOperation(engine, identity, base));
        server.registerInterceptor(new ExportDownloadGuard(jobs, identity));
        server.registerInterceptor(new ExportCapabilities(engine.context().fhir(), engine.context().types()));
    }

    /** Stops the workers (their jobs stay resumable) and closes the job table. */
    @Override
    public void close() {
        try {
            engine.close();
        } finally {
            jobs.close();
        }
    }
}
