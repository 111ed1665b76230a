package dev.bulkfhir.providers.binary;

import dev.bulkfhir.providers.audit.AuditSink;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.RestfulServer;
import dev.bulkfhir.storage.binary.BinarySource;
import dev.bulkfhir.storage.resource.ResourceStore;

import java.util.ArrayList;
import java.util.List;

/**
 * The Binary endpoint, in one of two roles:
 *
 * <ul>
 *   <li>{@link #owning}: the whole endpoint on our store — native or wrapped reads, raw or
 *       FHIR-format create and update, delete, search, history;</li>
 *   <li>{@link #alongside}: the host keeps its own Binary provider and storage (a HAPI JPA server);
 *       we serve native reads of its Binaries from a {@link BinarySource} over them and leave wrapped
 *       reads, writes and searches to its provider.</li>
 * </ul>
 *
 * Both add the {@code $binary-access-read} and {@code $export-download} operations. Reads look ids
 * up in the extra sources first (e.g. export files, which are read-only), then in the Binaries.
 */
public final class BinaryAccess {

    private final FhirContext context;
    private final ResourceStore store;
    private final BinarySource binaries;
    private final BinaryAccessSettings settings;
    private final List<BinarySource> sources = new ArrayList<>();
    private AuditSink audit = AuditSink.off();

    private BinaryAccess(FhirContext context, ResourceStore store, BinarySource binaries,
            BinaryAccessSettings settings) {
        this.context = context;
        this.store = store;
        this.binaries = binaries;
        this.settings = settings;
    }

    /** The whole Binary endpoint, on {@code store}; the server must have no other provider for Binary. */
    public static BinaryAccess owning(ResourceStore store, BinaryAccessSettings settings) {
        return new BinaryAccess(store.context(), store, store.binaries(), settings);
    }

    /** Native reads and the download operations for the host's Binaries, next to its own Binary provider. */
    public static BinaryAccess alongside(FhirContext context, BinarySource hostBinaries, BinaryAccessSettings settings) {
        return new BinaryAccess(context, null, hostBinaries, settings);
    }

    /** Serves another source's Binaries (e.g. export files) in the same id space, ahead of the others. */
    public BinaryAccess withSource(BinarySource source) {
        sources.add(source);
        return this;
    }

    /** Where reads and downloads are recorded (default: nowhere); set before {@link #install}. */
    public BinaryAccess audit(AuditSink sink) {
        this.audit = sink;
        return this;
    }

    /** Whether this registers a Binary resource provider of its own. */
    public boolean ownsBinary() {
        return store != null;
    }

    /** Registers the providers and the interceptor. Call it from {@code initialize()}, or before the servlet starts. */
    public void install(RestfulServer server) {
        List<BinarySource> all = new ArrayList<>(sources);
        all.add(binaries);
        BinarySources source = new BinarySources(all);
        if (store != null) {
            server.registerProvider(new BinaryResourceProvider(store, source, settings));
        }
        BinaryReads reads = new BinaryReads(source, audit);
        server.registerProvider(new BinaryDownloadOperations(source, reads));
        server.registerInterceptor(new BinaryInterceptor(context, store, source, settings, reads));
    }
}
