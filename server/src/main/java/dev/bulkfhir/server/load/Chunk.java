package dev.bulkfhir.server.load;

import java.util.Arrays;

/**
 * Up to a batch of raw resources (UTF-8 JSON, back to back in one array) from one file, with
 * where each came from. The reader fills it; one parser thread turns it into a {@link Batch}.
 */
final class Chunk {

    final SourceFile source;
    /** The links of the Bundle the entries come from; null for NDJSON. */
    final BundleLinks links;
    byte[] data;
    int size;
    int count;
    int[] ends;
    /** Line (NDJSON, 1-based) or entry index (Bundle, 0-based) of each item; -1 for a whole file. */
    long[] positions;
    /** Per entry, for Bundles only: fullUrl, request.method and request.url (each may be null). */
    String[] fullUrls;
    String[] methods;
    String[] urls;
    /** Pipeline memory permits this chunk holds until its resources are written. */
    int permits;

    /** Drops what only parsing needed, keeping what rejections need. */
    void parsed() {
        data = null;
        fullUrls = null;
        methods = null;
        urls = null;
    }

    Chunk(SourceFile source, BundleLinks links, int expectedBytes, int expectedItems) {
        this.source = source;
        this.links = links;
        this.data = new byte[Math.max(1024, expectedBytes)];
        this.ends = new int[Math.max(16, expectedItems)];
        this.positions = new long[ends.length];
        if (links != null) {
            fullUrls = new String[ends.length];
            methods = new String[ends.length];
            urls = new String[ends.length];
        }
    }

    int start(int item) {
        return item == 0 ? 0 : ends[item - 1];
    }

    /** Room for {@code more} bytes after {@link #size}. */
    void ensureCapacity(int more) {
        long needed = (long) size + more;
        if (needed > data.length) {
            if (needed > Integer.MAX_VALUE - 16) {
                throw new IllegalStateException("A single resource of more than 2 GB cannot be loaded");
            }
            data = Arrays.copyOf(data, (int) Math.max(needed, Math.min(Integer.MAX_VALUE - 16, data.length * 3L / 2)));
        }
    }

    void append(byte[] bytes, int offset, int length) {
        ensureCapacity(length);
        System.arraycopy(bytes, offset, data, size, length);
        size += length;
    }

    /** Closes the item whose bytes end at {@link #size}. */
    void endItem(long position, String fullUrl, String method, String url) {
        if (count == ends.length) {
            int grown = ends.length * 2;
            ends = Arrays.copyOf(ends, grown);
            positions = Arrays.copyOf(positions, grown);
            if (fullUrls != null) {
                fullUrls = Arrays.copyOf(fullUrls, grown);
                methods = Arrays.copyOf(methods, grown);
                urls = Arrays.copyOf(urls, grown);
            }
        }
        ends[count] = size;
        positions[count] = position;
        if (fullUrls != null) {
            fullUrls[count] = fullUrl;
            methods[count] = method;
            urls[count] = url;
        }
        count++;
    }

    boolean isEmpty() {
        return count == 0;
    }

    /** A rejection located by line (NDJSON), entry (Bundle) or file (a single-resource file). */
    Rejection rejection(long position, String reason) {
        if (position < 0) return Rejection.ofFile(source.path(), reason);
        if (links != null) return Rejection.atEntry(source.path(), position, reason);
        return Rejection.atLine(source.path(), position, reason);
    }
}
