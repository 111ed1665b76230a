package dev.bulkfhir.server.cli;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.server.load.LoadAbortedException;
import dev.bulkfhir.server.load.LoadSummary;
import dev.bulkfhir.server.load.Loader;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.resource.ResourceStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "load", mixinStandardHelpOptions = true,
        description = "Import NDJSON and Bundle JSON files (Synthea output too) into the database.")
final class LoadCommand implements Callable<Integer> {

    @Mixin
    StorageOptions storage;

    @Parameters(arity = "1..*", paramLabel = "PATH", description = "Files or folders (*.ndjson, *.json).")
    List<Path> paths;

    @Override
    public Integer call() throws Exception {
        for (Path path : paths) {
            if (!Files.exists(path)) {
                System.err.println("No such file or folder: " + path);
                return 2;
            }
        }
        Files.createDirectories(storage.dataDir); // the H2 file and large Binary content live here
        try (FileStore files = storage.storageSettings().open(storage.dataDir);
                Database database = Database.open(storage.bulkLoadJdbcUrl(), storage.jdbcUser, storage.jdbcPassword, 4)) {
            ResourceStore store = new ResourceStore(database.dataSource(), FhirContext.forR4Cached(),
                    new BinaryStore(database.dataSource(), files, BinaryStore.DEFAULT_INLINE_THRESHOLD));
            return run(new Loader(store, System.out, System.console() != null), paths, System.out, System.err);
        }
    }

    /**
     * Loads and prints the summary; the exit code is 1 if nothing could be loaded or the load was
     * aborted (the database became unusable: how far it got and why, without a stack trace).
     */
    static int run(Loader loader, List<Path> paths, PrintStream out, PrintStream err) throws IOException {
        LoadSummary summary;
        try {
            summary = loader.load(paths);
        } catch (LoadAbortedException e) {
            e.summary().print(out);
            err.println(e.getMessage());
            err.println("What was loaded before stays stored; loading the same files again makes new versions"
                    + " of those resources.");
            return 1;
        }
        summary.print(out);
        return summary.loaded() == 0 && summary.rejected() > 0 ? 1 : 0;
    }
}
