package dev.bulkfhir.providers.binary;

import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;

import java.util.List;
import java.util.Optional;

/** Several sources as one Binary id space: the first that knows an id serves it. */
final class BinarySources implements BinarySource {

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
}
