package dev.bulkfhir.server.load;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPInputStream;

/** One input file: where it is, its place in the load, and how to read it. */
record SourceFile(int index, Path path, Format format) {

    enum Format {
        /** One resource per line. */
        NDJSON,
        /** A Bundle whose entries are loaded one by one, or any single resource. */
        JSON
    }

    static boolean isLoadable(Path path) {
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".ndjson") || name.endsWith(".ndjson.gz") || name.endsWith(".json")
                || name.endsWith(".json.gz");
    }

    /** {@code *.json} and {@code *.json.gz} are JSON; everything else is read as NDJSON. */
    static Format formatOf(Path path) {
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".json") || name.endsWith(".json.gz") ? Format.JSON : Format.NDJSON;
    }

    boolean gzipped() {
        return path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gz");
    }

    /** Opens the file, decompressing {@code .gz}; {@code progress} counts the bytes read from disk. */
    InputStream open(AtomicLong progress) throws IOException {
        InputStream raw = new CountingInputStream(Files.newInputStream(path), progress);
        return gzipped() ? new GZIPInputStream(raw, 1 << 16) : new BufferedInputStream(raw, 1 << 16);
    }

    /** Counts bytes as they are read (for the progress bar); {@code null} counts nothing. */
    private static final class CountingInputStream extends FilterInputStream {
        private final AtomicLong counter;

        CountingInputStream(InputStream in, AtomicLong counter) {
            super(in);
            this.counter = counter;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0 && counter != null) counter.incrementAndGet();
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            int n = super.read(buffer, offset, length);
            if (n > 0 && counter != null) counter.addAndGet(n);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(n);
            if (skipped > 0 && counter != null) counter.addAndGet(skipped);
            return skipped;
        }
    }
}
