package dev.bulkfhir.server.load;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.StreamWriteFeature;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;

/**
 * Reads a JSON file with Jackson's streaming parser, never holding more than one entry. One walk over
 * the file serves two passes: the first ({@link #scan}) only learns what the file is and where its
 * {@code urn:uuid:} fullUrls point; the second ({@link #stream}) copies each {@code entry[].resource}
 * out as bytes for a parser thread. Numbers are copied as written, so decimal precision ({@code 1.50}) survives.
 */
final class BundleReader {

    /** Jackson's defaults cap strings at 20 MB; a Binary's base64 data may be longer. */
    static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxStringLength(Integer.MAX_VALUE)
                    .maxNumberLength(10_000)
                    .build())
            .disable(StreamReadFeature.AUTO_CLOSE_SOURCE)
            .disable(StreamWriteFeature.AUTO_CLOSE_TARGET)
            .build();

    /** What a JSON file holds. */
    record Scan(String resourceType, String bundleType, long entries) {
        boolean isBundle() {
            return "Bundle".equals(resourceType);
        }
    }

    /** The file is not well-formed JSON, or not a FHIR resource; nothing of it is loaded. */
    static final class MalformedFileException extends IOException {
        MalformedFileException(String message) {
            super(message);
        }
    }

    private final Feed feed;
    private final int maxItems;
    private final int maxBytes;

    BundleReader(Feed feed, int maxItems, int maxBytes) {
        this.feed = feed;
        this.maxItems = maxItems;
        this.maxBytes = maxBytes;
    }

    /** An entry's fields that either pass needs; {@code resources} counts its resource objects. */
    private static final class Entry {
        String fullUrl;
        String type;
        String id;
        String method;
        String url;
        String ifNoneExist;
        int resources;
    }

    /** What a pass does with the entries the one walk over the file finds. */
    private interface Entries {
        /** Before each element of {@code entry[]}; false stops the walk. */
        boolean next() throws IOException, InterruptedException;

        /** At an entry's resource, the parser on its START_OBJECT: consumes the whole object. */
        void resource(JsonParser p, Entry entry) throws IOException;

        /** After an entry object, or ({@code entry} null) after an element that is not an object. */
        void done(long index, Entry entry) throws IOException, InterruptedException;
    }

    /**
     * Walks the file once: its resourceType, its type and each element of {@code entry[]}, checking
     * that it is one well-formed JSON object.
     */
    private static Scan walk(JsonParser p, Entries entries) throws IOException, InterruptedException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw new MalformedFileException("Not a FHIR resource: the file does not hold a JSON object");
        }
        String resourceType = null;
        String bundleType = null;
        long index = 0;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if ("resourceType".equals(field) && value == JsonToken.VALUE_STRING) {
                resourceType = p.getText();
            } else if ("type".equals(field) && value == JsonToken.VALUE_STRING) {
                bundleType = p.getText();
            } else if ("entry".equals(field) && value == JsonToken.START_ARRAY) {
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    if (!entries.next()) {
                        return null;
                    }
                    if (p.currentToken() == JsonToken.START_OBJECT) {
                        entries.done(index, entry(p, entries));
                    } else {
                        p.skipChildren();
                        entries.done(index, null);
                    }
                    index++;
                }
            } else {
                p.skipChildren();
            }
        }
        if (p.nextToken() != null) {
            throw new MalformedFileException("More than one JSON value in the file"
                    + " (NDJSON, one resource per line, must be named *.ndjson)");
        }
        if (resourceType == null) {
            throw new MalformedFileException("Not a FHIR resource: no resourceType");
        }
        return new Scan(resourceType, bundleType, "Bundle".equals(resourceType) ? index : 0);
    }

    private static Entry entry(JsonParser p, Entries entries) throws IOException {
        Entry entry = new Entry();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if ("fullUrl".equals(field) && value == JsonToken.VALUE_STRING) {
                entry.fullUrl = p.getText();
            } else if ("resource".equals(field) && value == JsonToken.START_OBJECT) {
                entry.resources++;
                entries.resource(p, entry);
            } else if ("request".equals(field) && value == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken inner = p.nextToken();
                    if (inner == JsonToken.VALUE_STRING) {
                        switch (name) {
                            case "method" -> entry.method = p.getText();
                            case "url" -> entry.url = p.getText();
                            case "ifNoneExist" -> entry.ifNoneExist = p.getText();
                            default -> { }
                        }
                    } else {
                        p.skipChildren();
                    }
                }
            } else {
                p.skipChildren();
            }
        }
        return entry;
    }

    // ---------------------------------------------------------------- pass 1

    /** Checks the whole file and records where each entry's fullUrl points. */
    static Scan scan(InputStream in, BundleLinks links) throws IOException, InterruptedException {
        try (JsonParser p = JSON.createParser(in)) {
            return walk(p, new Entries() {
                @Override
                public boolean next() {
                    return true;
                }

                @Override
                public void resource(JsonParser p, Entry entry) throws IOException {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        JsonToken inner = p.nextToken();
                        if ("resourceType".equals(name) && inner == JsonToken.VALUE_STRING) {
                            entry.type = p.getText();
                        } else if ("id".equals(name) && inner == JsonToken.VALUE_STRING) {
                            entry.id = p.getText();
                        } else {
                            p.skipChildren();
                        }
                    }
                }

                @Override
                public void done(long index, Entry entry) {
                    if (entry != null) {
                        links.add(entry.fullUrl, entry.type, BundleLinks.entryId(entry.id, entry.fullUrl, entry.method,
                                entry.url), entry.method, entry.url, entry.ifNoneExist);
                    }
                }
            });
        } catch (JsonProcessingException e) {
            throw new MalformedFileException("Malformed JSON: " + describe(e));
        }
    }

    /**
     * The Bundle's {@code type} if it comes before its entries (as HAPI and Synthea write it), read
     * without going through the entries; null otherwise or if the file is not a Bundle.
     */
    static String peekBundleType(InputStream in) {
        try (JsonParser p = JSON.createParser(in)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if ("type".equals(field) && value == JsonToken.VALUE_STRING) {
                    return p.getText();
                }
                if ("entry".equals(field)) {
                    return null;
                }
                p.skipChildren();
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    // ---------------------------------------------------------------- pass 2

    /** Hands every entry's resource to the parser threads, in chunks. */
    void stream(SourceFile source, InputStream in, BundleLinks links) throws IOException, InterruptedException {
        Path path = source.path();
        ChunkOutput out = new ChunkOutput(new Chunk(source, links, 1 << 16, maxItems));
        try (JsonParser p = JSON.createParser(in)) {
            Scan whole = walk(p, new Entries() {
                /** Where the entry being copied starts in the chunk: an entry that is skipped is cut off there. */
                int mark;

                @Override
                public boolean next() throws InterruptedException {
                    Chunk chunk = out.chunk;
                    if (chunk.count >= maxItems || chunk.size >= maxBytes) {
                        out.chunk = new Chunk(source, links, Math.min(maxBytes, chunk.size) + maxBytes / 8, maxItems);
                        if (!feed.chunk(chunk)) {
                            return false;
                        }
                    }
                    mark = out.chunk.size;
                    return true;
                }

                @Override
                public void resource(JsonParser p, Entry entry) throws IOException {
                    try (JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
                        copy(p, g);
                    }
                }

                @Override
                public void done(long index, Entry entry) {
                    if (entry == null) {
                        feed.reject(Rejection.atEntry(path, index, "Entry is not a JSON object"));
                    } else if (entry.resources != 1) {
                        out.chunk.size = mark;
                        feed.reject(Rejection.atEntry(path, index, entry.resources > 1 ? "Entry has more than one resource"
                                : "DELETE".equalsIgnoreCase(entry.method) ? "DELETE entries are not loaded (" + entry.url + ")"
                                : "Entry has no resource"));
                    } else {
                        out.chunk.endItem(index, entry.fullUrl, entry.method, entry.url);
                    }
                }
            });
            if (whole == null) {
                return; // the loader stopped taking chunks
            }
        } catch (JsonProcessingException e) {
            out.chunk.size = out.chunk.count == 0 ? 0 : out.chunk.ends[out.chunk.count - 1];
            flush(out.chunk);
            throw new MalformedFileException("Malformed JSON: " + describe(e));
        } catch (IOException e) {
            out.chunk.size = out.chunk.count == 0 ? 0 : out.chunk.ends[out.chunk.count - 1];
            flush(out.chunk);
            throw e;
        }
        flush(out.chunk);
    }

    private void flush(Chunk chunk) throws InterruptedException {
        if (!chunk.isEmpty()) {
            feed.chunk(chunk);
        }
    }

    /** Copies the object at the parser's current START_OBJECT, numbers as written. */
    static void copy(JsonParser p, JsonGenerator g) throws IOException {
        int depth = 0;
        JsonToken token = p.currentToken();
        while (true) {
            switch (token) {
                case START_OBJECT -> {
                    g.writeStartObject();
                    depth++;
                }
                case END_OBJECT -> {
                    g.writeEndObject();
                    depth--;
                }
                case START_ARRAY -> {
                    g.writeStartArray();
                    depth++;
                }
                case END_ARRAY -> {
                    g.writeEndArray();
                    depth--;
                }
                case FIELD_NAME -> g.writeFieldName(p.currentName());
                case VALUE_STRING -> g.writeString(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
                case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> g.writeNumber(p.getText());
                case VALUE_TRUE -> g.writeBoolean(true);
                case VALUE_FALSE -> g.writeBoolean(false);
                case VALUE_NULL -> g.writeNull();
                default -> throw new MalformedFileException("Unexpected JSON token " + token);
            }
            if (depth == 0) {
                return;
            }
            token = p.nextToken();
            if (token == null) {
                throw new MalformedFileException("Malformed JSON: the file ends inside a resource");
            }
        }
    }

    static String describe(JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        String message = e.getOriginalMessage() == null ? e.toString() : e.getOriginalMessage();
        message = message.replaceAll("\\s+", " ").trim();
        return at == null ? message : message + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }

    /** Appends whatever Jackson writes to the chunk being filled. */
    private static final class ChunkOutput extends OutputStream {
        Chunk chunk;

        ChunkOutput(Chunk chunk) {
            this.chunk = chunk;
        }

        @Override
        public void write(int b) {
            chunk.ensureCapacity(1);
            chunk.data[chunk.size++] = (byte) b;
        }

        @Override
        public void write(byte[] bytes, int offset, int length) {
            chunk.append(bytes, offset, length);
        }
    }
}
