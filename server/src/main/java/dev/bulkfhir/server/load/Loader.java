package dev.bulkfhir.server.load;

import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.SourceJson;
import dev.bulkfhir.storage.resource.WriteConflictException;
import org.hl7.fhir.instance.model.api.IBaseResource;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

/**
 * Imports NDJSON files (one resource per line, {@code .ndjson} or {@code .ndjson.gz}) and JSON
 * files ({@code .json}, {@code .json.gz}: a Bundle, whose entries are loaded one by one, such as
 * Synthea's output; or any single resource) into a {@link ResourceStore}.
 *
 * <p>A pipeline with flat memory whatever the size of the files: the calling thread reads the
 * files and cuts them into chunks of raw JSON (at most 250 resources or 256 KB, see
 * {@link #batchSize(int)}); parser threads (one per core, each with its own HAPI parser) turn
 * chunks into resources; a writer thread stores each batch with one {@link ResourceStore#writeAll}
 * transaction.
 * The queues between the stages are short and the raw bytes in flight are capped, so a slow
 * database slows the reading down instead of filling the heap.
 *
 * <p>Bad input is reported, not fatal: a line that is not JSON, has an unknown resourceType, an
 * invalid id or an element HAPI's R4 model does not know is rejected with its file and line (or
 * Bundle entry index) and the reason; a Bundle file that is not well-formed JSON is rejected
 * whole before anything of it is stored. If a batch fails in the database, its resources are
 * written again one by one, so only the guilty resource is rejected. A resource is either stored
 * whole or not at all. If the database itself becomes unusable (connection lost), the load stops
 * with a {@link LoadAbortedException}.
 *
 * <p>Bundles are read twice with Jackson's streaming parser: the first pass maps each
 * {@code urn:uuid:X} fullUrl to the resource type of its entry (a few dozen bytes per entry); the
 * second hands the entries to the parser threads, which store each entry under id X and rewrite
 * every reference {@code urn:uuid:X} to {@code Type/X} (forward references included). Conditional
 * references ({@code Organization?identifier=s|v}) are resolved against the conditional creates
 * ({@code request.ifNoneExist}) already seen in this load; in a folder, Bundles of type
 * {@code batch} (Synthea's hospital and practitioner files) are therefore loaded first.
 *
 * <p>Order: files in the order given, folders expanded recursively in name order (hidden files
 * skipped). Chunks are parsed in parallel, so if the same resource appears in two chunks of one
 * load, which version ends up current is not defined.
 */
public final class Loader {

    /** Rejections kept for the summary; the count is always exact. */
    public static final int MAX_KEPT_REJECTIONS = 10_000;

    private static final Set<String> WHOLE_BUNDLE_TYPES = Set.of("document", "message");

    private final ResourceStore store;
    private final PrintStream out;
    private final boolean progressBar;
    /**
     * Resources per transaction. Measured at -Xmx512m on 2 cores: batches of 250 spend half or less
     * of the garbage-collection pause time of batches of 1000 (fewer parsed resources survive a
     * young collection while they wait), for no loss in the database.
     */
    private int batchSize = 250;
    /**
     * A chunk closes once it holds this many bytes, whatever its count: big resources make small
     * transactions, and chunk buffers stay under G1's humongous-object size (half a region: 512 KB
     * with a 512 MB heap), whose allocations each start a concurrent collection cycle.
     */
    private int maxChunkBytes = 256 << 10;
    private int parserThreads = Math.max(1, Runtime.getRuntime().availableProcessors());
    /**
     * One writer by default. Measured on 2 cores: a second writer adds no throughput with H2 and
     * costs about a third more writer CPU (the two contend for the same B-tree roots), which the
     * parsers and the JIT compiler then lack.
     */
    private int writerThreads = 1;

    /**
     * @param out         where progress goes (a redrawn line on a terminal, a line every ten
     *                    seconds otherwise); null for silence. The summary is printed by
     *                    {@link LoadSummary#print}.
     * @param progressBar true on an interactive terminal ({@code System.console() != null})
     */
    public Loader(ResourceStore store, PrintStream out, boolean progressBar) {
        this.store = store;
        this.out = out;
        this.progressBar = progressBar;
    }

    /** Resources per transaction; 250 unless changed. */
    public Loader batchSize(int resources) {
        if (resources < 1) throw new IllegalArgumentException("batch size must be at least 1");
        this.batchSize = resources;
        return this;
    }

    /** Parser threads (default: one per core) and writer threads (default: 1). */
    public Loader threads(int parsers, int writers) {
        if (parsers < 1 || writers < 1) throw new IllegalArgumentException("at least one thread of each kind");
        this.parserThreads = parsers;
        this.writerThreads = writers;
        return this;
    }

    /**
     * Loads every file, and every {@code *.ndjson}, {@code *.ndjson.gz}, {@code *.json},
     * {@code *.json.gz} under every folder.
     *
     * @throws NoSuchFileException  if a path does not exist (checked before anything is loaded)
     * @throws LoadAbortedException if the database became unusable; what was stored stays
     */
    public LoadSummary load(List<Path> paths) throws IOException {
        return new Run(expand(paths)).execute();
    }

    // ---------------------------------------------------------------- which files

    static List<SourceFile> expand(List<Path> paths) throws IOException {
        Set<Path> ordered = new LinkedHashSet<>();
        for (Path path : paths) {
            if (!Files.exists(path)) {
                throw new NoSuchFileException(path.toString(), null, "no such file or folder");
            }
            if (!Files.isDirectory(path)) {
                ordered.add(path.normalize());
                continue;
            }
            List<Path> found;
            try (Stream<Path> walk = Files.walk(path)) {
                found = walk.filter(Files::isRegularFile)
                        .filter(SourceFile::isLoadable)
                        .filter(file -> !isHidden(path.relativize(file)))
                        .map(Path::normalize)
                        .sorted()
                        .toList();
            }
            // Bundles that others point into by conditional reference (Synthea's hospital and
            // practitioner files are batch Bundles) go first.
            for (Path file : found) {
                if (SourceFile.formatOf(file) == SourceFile.Format.JSON && "batch".equals(peekBundleType(file))) {
                    ordered.add(file);
                }
            }
            ordered.addAll(found);
        }
        List<SourceFile> files = new ArrayList<>(ordered.size());
        for (Path file : ordered) {
            files.add(new SourceFile(files.size(), file, SourceFile.formatOf(file)));
        }
        return files;
    }

    private static boolean isHidden(Path relative) {
        for (Path part : relative) {
            if (part.toString().startsWith(".")) return true;
        }
        return false;
    }

    private static String peekBundleType(Path file) {
        try (InputStream in = new SourceFile(0, file, SourceFile.Format.JSON).open(null)) {
            return BundleReader.peekBundleType(in);
        } catch (IOException e) {
            return null;
        }
    }

    /** A message on one line, at most 500 characters. */
    static String oneLine(String message) {
        if (message == null) return "(no message)";
        String line = message.replaceAll("\\s+", " ").trim();
        return line.length() > 500 ? line.substring(0, 500) + "..." : line;
    }

    // ---------------------------------------------------------------- one load

    private final class Run implements Feed {

        private final List<SourceFile> files;
        private final Map<Path, Integer> fileOrder = new HashMap<>();
        private final AtomicLong bytesRead = new AtomicLong();
        private final LongAdder loaded = new LongAdder();
        private final ConcurrentHashMap<String, LongAdder> loadedByType = new ConcurrentHashMap<>();
        private final AtomicLong rejected = new AtomicLong();
        private final List<Rejection> kept = new ArrayList<>();
        private final ConditionalTargets conditional = new ConditionalTargets();
        private final AtomicReference<Throwable> fatal = new AtomicReference<>();
        private final Chunk endOfChunks = new Chunk(null, null, 0, 0);
        private final Batch endOfBatches = new Batch(endOfChunks);
        private final BlockingQueue<Chunk> toParse = new ArrayBlockingQueue<>(parserThreads * 2);
        private final BlockingQueue<Batch> toWrite = new ArrayBlockingQueue<>(Math.max(writerThreads, 2));
        /** Kilobytes of raw JSON in flight between the reader and the database. */
        private final int memoryBudget = (int) Math.max(16 << 10, Runtime.getRuntime().maxMemory() / 16 / 1024);
        private final Semaphore memory = new Semaphore(memoryBudget);
        private final List<Thread> parsers = new ArrayList<>();
        private final List<Thread> writers = new ArrayList<>();

        Run(List<SourceFile> files) {
            this.files = files;
            for (SourceFile file : files) {
                fileOrder.put(file.path(), file.index());
            }
        }

        LoadSummary execute() throws IOException {
            long start = System.nanoTime();
            long totalBytes = 0;
            for (SourceFile file : files) {
                totalBytes += Files.size(file.path());
            }
            for (int i = 0; i < parserThreads; i++) {
                parsers.add(daemon("load-parser-" + (i + 1), this::parseLoop));
            }
            for (int i = 0; i < writerThreads; i++) {
                writers.add(daemon("load-writer-" + (i + 1), this::writeLoop));
            }
            Progress progress = new Progress(out, progressBar, totalBytes, bytesRead::get, loaded::sum, rejected::get);
            progress.start();
            boolean interrupted = false;
            try {
                NdjsonReader ndjson = new NdjsonReader(this, batchSize, maxChunkBytes);
                BundleReader bundles = new BundleReader(this, batchSize, maxChunkBytes);
                for (SourceFile file : files) {
                    if (fatal.get() != null) break;
                    loadFile(file, ndjson, bundles);
                }
            } catch (InterruptedException e) {
                interrupted = true;
                fail(e);
            } finally {
                finishPipeline();
                progress.close();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            LoadSummary summary = summary(System.nanoTime() - start);
            Throwable failure = fatal.get();
            if (failure != null) {
                throw new LoadAbortedException("Load stopped after " + summary.loaded() + " resources: "
                        + oneLine(failure.toString()), failure, summary);
            }
            return summary;
        }

        private void loadFile(SourceFile file, NdjsonReader ndjson, BundleReader bundles)
                throws InterruptedException {
            try {
                if (file.format() == SourceFile.Format.NDJSON) {
                    try (InputStream in = file.open(bytesRead)) {
                        ndjson.read(file, in);
                    }
                } else {
                    loadJson(file, bundles);
                }
            } catch (BundleReader.MalformedFileException e) {
                reject(Rejection.ofFile(file.path(), e.getMessage()));
            } catch (IOException e) {
                reject(Rejection.ofFile(file.path(), "Could not read the whole file (what came before the error"
                        + " was loaded): " + oneLine(e.toString())));
            }
        }

        private void loadJson(SourceFile file, BundleReader bundles) throws IOException, InterruptedException {
            BundleLinks links = new BundleLinks(conditional);
            BundleReader.Scan scan;
            try (InputStream in = file.open(null)) {
                scan = BundleReader.scan(in, links);
            } catch (BundleReader.MalformedFileException e) {
                bytesRead.addAndGet(Files.size(file.path()));
                throw e;
            }
            if (scan.isBundle() && !WHOLE_BUNDLE_TYPES.contains(scan.bundleType())) {
                try (InputStream in = file.open(bytesRead)) {
                    bundles.stream(file, in, links);
                }
                return;
            }
            // A single resource (a document or message Bundle is one too): the file is the resource.
            byte[] json;
            try (InputStream in = file.open(bytesRead)) {
                json = in.readAllBytes();
            }
            Chunk chunk = new Chunk(file, null, json.length, 1);
            chunk.append(json, 0, json.length);
            chunk.endItem(-1, null, null, null);
            chunk(chunk);
        }

        // ------------------------------------------------------------ feed (reader side)

        @Override
        public boolean chunk(Chunk chunk) throws InterruptedException {
            int permits = (int) Math.min(memoryBudget, Math.max(1, chunk.size / 1024));
            while (!memory.tryAcquire(permits, 100, TimeUnit.MILLISECONDS)) {
                if (fatal.get() != null) return false;
            }
            chunk.permits = permits;
            while (!toParse.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
                if (fatal.get() != null) {
                    memory.release(permits);
                    return false;
                }
            }
            return fatal.get() == null;
        }

        @Override
        public void reject(Rejection rejection) {
            rejected.incrementAndGet();
            synchronized (kept) {
                if (kept.size() < MAX_KEPT_REJECTIONS) {
                    kept.add(rejection);
                }
            }
        }

        // ------------------------------------------------------------ parsers

        private void parseLoop() {
            ResourceParser parser = new ResourceParser(store.context());
            while (true) {
                Chunk chunk = takeUninterruptibly(toParse);
                if (chunk == endOfChunks) return;
                boolean handedOn = false;
                try {
                    if (fatal.get() != null) continue;
                    Batch batch = parser.parse(chunk, this::reject);
                    chunk.parsed();
                    if (batch.size() == 0) continue;
                    boolean offered;
                    while (!(offered = toWrite.offer(batch, 100, TimeUnit.MILLISECONDS))) {
                        if (fatal.get() != null) break;
                    }
                    handedOn = offered; // the writer that takes it releases its memory
                } catch (InterruptedException e) {
                    fail(e);
                } catch (Throwable t) {
                    fail(t);
                } finally {
                    if (!handedOn) memory.release(chunk.permits);
                }
            }
        }

        // ------------------------------------------------------------ writers

        private void writeLoop() {
            while (true) {
                Batch batch = takeUninterruptibly(toWrite);
                if (batch == endOfBatches) return;
                try {
                    if (fatal.get() == null) write(batch);
                } catch (Throwable t) {
                    fail(t);
                } finally {
                    memory.release(batch.chunk.permits);
                }
            }
        }

        private void write(Batch batch) {
            try {
                store.writeAll(batch.resources, batch.sources);
                for (int i = 0; i < batch.size(); i++) {
                    stored(batch.types.get(i));
                }
                loaded.add(batch.size());
                return;
            } catch (RuntimeException e) {
                if (isFatal(e)) {
                    fail(e);
                    return;
                }
            }
            // One transaction per resource, so that only the resource at fault is rejected.
            for (int i = 0; i < batch.size() && fatal.get() == null; i++) {
                writeOne(batch, i);
            }
        }

        private void writeOne(Batch batch, int item) {
            IBaseResource resource = batch.resources.get(item);
            List<SourceJson> source = java.util.Collections.singletonList(batch.sources.get(item));
            for (int attempt = 1; ; attempt++) {
                try {
                    store.writeAll(List.of(resource), source);
                    stored(batch.types.get(item));
                    loaded.increment();
                    return;
                } catch (WriteConflictException e) {
                    if (attempt < 3) continue;
                    reject(batch.rejection(item, oneLine(e.getMessage())));
                    return;
                } catch (RuntimeException e) {
                    if (isFatal(e)) {
                        fail(e);
                    } else {
                        reject(batch.rejection(item, oneLine(e.getMessage() == null ? e.toString() : e.getMessage())));
                    }
                    return;
                }
            }
        }

        private void stored(String type) {
            loadedByType.computeIfAbsent(type, t -> new LongAdder()).increment();
        }

        // ------------------------------------------------------------ lifecycle

        private void fail(Throwable t) {
            fatal.compareAndSet(null, t);
        }

        private void finishPipeline() {
            for (int i = 0; i < parsers.size(); i++) {
                putUninterruptibly(toParse, endOfChunks);
            }
            joinAll(parsers);
            for (int i = 0; i < writers.size(); i++) {
                putUninterruptibly(toWrite, endOfBatches);
            }
            joinAll(writers);
        }

        private LoadSummary summary(long nanos) {
            List<Rejection> rejections;
            synchronized (kept) {
                rejections = new ArrayList<>(kept);
            }
            rejections.sort(Comparator
                    .comparingInt((Rejection r) -> fileOrder.getOrDefault(r.file(), Integer.MAX_VALUE))
                    .thenComparingLong(r -> r.line() >= 0 ? r.line() : r.entry() >= 0 ? r.entry() : Long.MAX_VALUE));
            Map<String, Long> byType = new TreeMap<>();
            loadedByType.forEach((type, count) -> byType.put(type, count.sum()));
            return new LoadSummary(loaded.sum(), rejected.get(), rejections, Duration.ofNanos(nanos), files.size(),
                    byType);
        }
    }

    /**
     * Errors after which no write can succeed: the connection is gone or refused, the pool timed
     * out, the database is closed, out of disk or shutting down.
     */
    static boolean isFatal(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof SQLTransientConnectionException || t instanceof SQLNonTransientConnectionException) {
                return true;
            }
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                String state = sql.getSQLState();
                if (state.startsWith("08") || state.startsWith("53") || state.startsWith("57P")
                        || state.equals("90098") || state.equals("90121")) {
                    return true;
                }
            }
            if (t.getCause() == t) break;
        }
        return false;
    }

    private static Thread daemon(String name, Runnable body) {
        Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    private static <T> T takeUninterruptibly(BlockingQueue<T> queue) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return queue.take();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    private static <T> void putUninterruptibly(BlockingQueue<T> queue, T item) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    queue.put(item);
                    return;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    private static void joinAll(List<Thread> threads) {
        boolean interrupted = false;
        for (Thread thread : threads) {
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
