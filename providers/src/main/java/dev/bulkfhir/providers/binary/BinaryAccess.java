package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.server.RestfulServer;
import dev.bulkfhir.storage.binary.BinarySource;
import dev.bulkfhir.storage.resource.ResourceStore;

import java.util.ArrayList;
import java.util.List;

/**
 * The Binary endpoint, installable into any {@link RestfulServer}: native or wrapped reads, raw
 * or FHIR-format create and update, delete, search, history, and the {@code $binary-access-read}
 * and {@code $export-download} operations.
 *
 * <pre>
 * new BinaryAccess(store, BinaryAccessSettings.defaults()).install(restfulServer);
 * </pre>
 *
 * Binaries are written to {@code store}; reads look ids up in the extra sources first (e.g. export
 * files, which are read-only), then in the store.
 */
public final class BinaryAccess {

    private final ResourceStore store;
    private final BinaryAccessSettings settings;
    private final List<BinarySource> sources = new ArrayList<>();

    public BinaryAccess(ResourceStore store, BinaryAccessSettings settings) {
        this.store = store;
        this.settings = settings;
    }

    /** Serves another source's Binaries (e.g. export files) in the same id space, ahead of the store. */
    public BinaryAccess withSource(BinarySource source) {
        sources.add(source);
        return this;
    }

    /**
     * Registers the Binary resource provider, the download operations and the interceptor. The
     * server must have no other provider for Binary. Call it from {@code initialize()}, or before
     * the servlet starts.
     */
    public void install(RestfulServer server) {
        List<BinarySource> all = new ArrayList<>(sources);
        all.add(store.binaries());
        BinarySources source = new BinarySources(all);
        server.registerProvider(new BinaryResourceProvider(store, source, settings));
        server.registerProvider(new BinaryDownloadOperations(store.context(), source));
        server.registerInterceptor(new BinaryInterceptor(store, source, settings));
    }
}
