package dev.bulkfhir.server.bench;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Random;

/**
 * Writes COUNT resources with one inline attachment of MB megabytes each, half DocumentReference, half
 * Media, as NDJSON files in OUT (for the `load` command). The JSON is written directly: a parser would
 * only slow the writing of gigabytes down. Each attachment begins with its resource's number, so no
 * two are alike. Usage: BigAttachments OUT COUNT MB.
 */
public final class BigAttachments {

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        int count = Integer.parseInt(args[1]);
        int megabytes = Integer.parseInt(args[2]);
        Files.createDirectories(out);
        // A multiple of 3 bytes, so that base64 pieces put one after the other stay valid base64.
        byte[] block = new byte[(megabytes * 1024 * 1024 - 6) / 3 * 3];
        new Random(1).nextBytes(block);
        byte[] body = Base64.getEncoder().encode(block);
        try (OutputStream documents = open(out.resolve("DocumentReference.ndjson"));
                OutputStream media = open(out.resolve("Media.ndjson"))) {
            for (int i = 0; i < count; i++) {
                String head = Base64.getEncoder().encodeToString(ByteBuffer.allocate(6).putShort((short) 0)
                        .putInt(i).array());
                boolean document = i % 2 == 0;
                String start = document
                        ? "{\"resourceType\":\"DocumentReference\",\"id\":\"big-" + i + "\",\"status\":\"current\","
                                + "\"content\":[{\"attachment\":{\"contentType\":\"application/octet-stream\",\"data\":\""
                        : "{\"resourceType\":\"Media\",\"id\":\"big-" + i + "\",\"status\":\"completed\","
                                + "\"content\":{\"contentType\":\"application/octet-stream\",\"data\":\"";
                String end = document ? "\"}}]}\n" : "\"}}\n";
                OutputStream file = document ? documents : media;
                file.write((start + head).getBytes(StandardCharsets.US_ASCII));
                file.write(body);
                file.write(end.getBytes(StandardCharsets.US_ASCII));
            }
        }
    }

    private static OutputStream open(Path file) throws IOException {
        return new BufferedOutputStream(Files.newOutputStream(file), 1 << 20);
    }
}
