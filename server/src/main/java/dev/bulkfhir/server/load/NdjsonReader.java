package dev.bulkfhir.server.load;

import java.io.IOException;
import java.io.InputStream;

/**
 * Cuts an NDJSON stream into {@link Chunk}s of whole lines, without decoding or parsing them:
 * that is the parser threads' work. Memory: one read buffer and the chunk being filled. Blank
 * lines are skipped, {@code \r\n} and a leading byte-order mark are accepted.
 */
final class NdjsonReader {

    private final Feed feed;
    private final int maxItems;
    private final int maxBytes;

    NdjsonReader(Feed feed, int maxItems, int maxBytes) {
        this.feed = feed;
        this.maxItems = maxItems;
        this.maxBytes = maxBytes;
    }

    void read(SourceFile source, InputStream in) throws IOException, InterruptedException {
        byte[] buffer = new byte[1 << 16];
        Chunk chunk = new Chunk(source, null, maxBytes + maxBytes / 8, maxItems);
        long line = 1;
        int lineStart = 0;
        try {
            int n;
            while ((n = in.read(buffer)) > 0) {
                int from = 0;
                for (int i = 0; i < n; i++) {
                    if (buffer[i] != '\n') {
                        continue;
                    }
                    chunk.append(buffer, from, i - from);
                    from = i + 1;
                    endLine(chunk, lineStart, line++);
                    if (chunk.count >= maxItems || chunk.size >= maxBytes) {
                        Chunk full = chunk;
                        chunk = new Chunk(source, null, Math.min(maxBytes, full.size) + maxBytes / 8, maxItems);
                        if (!feed.chunk(full)) {
                            return;
                        }
                    }
                    lineStart = chunk.size;
                }
                chunk.append(buffer, from, n - from);
            }
            if (chunk.size > lineStart) {
                endLine(chunk, lineStart, line);
            }
        } catch (IOException e) {
            chunk.size = lineStart; // a line cut short by the error is not loaded
            if (!chunk.isEmpty()) {
                feed.chunk(chunk);
            }
            throw e;
        }
        if (!chunk.isEmpty()) {
            feed.chunk(chunk);
        }
    }

    /** Closes the line at [lineStart, chunk.size): trims CR and BOM, drops it if blank. */
    private static void endLine(Chunk chunk, int lineStart, long line) {
        byte[] data = chunk.data;
        if (chunk.size > lineStart && data[chunk.size - 1] == '\r') {
            chunk.size--;
        }
        if (line == 1 && chunk.size - lineStart >= 3 && (data[lineStart] & 0xFF) == 0xEF
                && (data[lineStart + 1] & 0xFF) == 0xBB && (data[lineStart + 2] & 0xFF) == 0xBF) {
            System.arraycopy(data, lineStart + 3, data, lineStart, chunk.size - lineStart - 3);
            chunk.size -= 3;
        }
        int i = lineStart;
        while (i < chunk.size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r')) {
            i++;
        }
        if (i == chunk.size) {
            chunk.size = lineStart;
            return;
        }
        chunk.endItem(line, null, null, null);
    }
}
