package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;

import java.util.List;
import java.util.Optional;

/** Several sources as one Binary id space: the first that knows an id serves it. */
final class BinarySources implements BinarySource {

    static final String NOT_FOUND = "Could not locate this Binary.";

    private final List<BinarySource> sources;

    BinarySources(List<BinarySource> sources) {
        this.sources = List.copyOf(sources);
    }

    @Override
    public Optional<BinaryDocument> find(String id, Long version) {
        for (BinarySource source : sources) {
            Optional<BinaryDocument> found = source.find(id, version);
            if (found.isPresent()) {
                return found;
            }
        }
        return Optional.empty();
    }

    @Override
    public boolean isReadOnly(String id) {
        return sources.stream().anyMatch(source -> source.isReadOnly(id));
    }

    /** The version asked for (current when {@code version} is null): 404 if unknown, 410 if deleted or lost. */
    static BinaryDocument lookup(BinarySource source, String id, String version) {
        Long number = null;
        if (version != null) {
            try {
                number = Long.parseLong(version);
            } catch (NumberFormatException e) {
                throw notFound();
            }
        }
        BinaryDocument document = source.find(id, number).orElseThrow(BinarySources::notFound);
        if (document.deleted()) {
            throw OperationOutcomes.gone("deleted", "Binary/" + id + " was deleted (version " + document.version()
                    + ").");
        }
        if (document.content() != null && !document.content().isAvailable()) {
            throw OperationOutcomes.missingContent(List.of(id));
        }
        return document;
    }

    static ResourceNotFoundException notFound() {
        return OperationOutcomes.notFound(NOT_FOUND);
    }
}
