package dev.bulkfhir.providers.export;

import dev.bulkfhir.storage.export.NdjsonFiles;

import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Output organized by patient (IG STU3 {@code organizeOutputBy=Patient}) for one batch of patients:
 * resources arrive type by type, in any order, and go as they come to a scratch file, while a small
 * index (patient, place in the file) grows in memory; {@link #writeTo} then writes each patient's
 * resource block, a {@code Parameters} header naming the patient followed by the resources of its
 * compartment in the order they came (Patient first, when its type is read first).
 *
 * <p>A block goes whole into the current file if it fits there, else it starts a new file; only a block
 * larger than a whole file is cut, and then the header is repeated at the top of the file it goes on in,
 * which the file before names as its continuation.
 */
final class PatientBlocks implements AutoCloseable {

    /** Index keys: the patient's place in the batch above this many bits, the resource's number below. */
    private static final int ENTRY_BITS = 40;

    private final List<String> patients;
    private final Map<String, Integer> places = new HashMap<>();
    private final Path scratch;
    private final OutputStream spill;
    private long position;
    private int entries;
    private long[] offsets = new long[1024];
    private int[] lengths = new int[1024];
    private int keyCount;
    private long[] keys = new long[1024];

    /** @param patients the batch's patient ids, in the order their blocks are written */
    PatientBlocks(List<String> patients, Path scratch) throws IOException {
        this.patients = patients;
        for (int i = 0; i < patients.size(); i++) places.put(patients.get(i), i);
        this.scratch = scratch;
        this.spill = new BufferedOutputStream(Files.newOutputStream(scratch, StandardOpenOption.WRITE), 1 << 16);
    }

    /** One resource, in the blocks of those of {@code patientIds} that are in the batch. */
    void add(byte[] json, Set<String> patientIds) throws IOException {
        int entry = -1;
        for (String id : patientIds) {
            Integer place = places.get(id);
            if (place == null) continue;
            if (entry < 0) {
                entry = entries++;
                if (entry == offsets.length) {
                    offsets = Arrays.copyOf(offsets, entry * 2);
                    lengths = Arrays.copyOf(lengths, entry * 2);
                }
                offsets[entry] = position;
                lengths[entry] = json.length;
                spill.write(json);
                position += json.length;
            }
            if (keyCount == keys.length) keys = Arrays.copyOf(keys, keyCount * 2);
            keys[keyCount++] = ((long) place << ENTRY_BITS) | entry;
        }
    }

    /** Writes the blocks, patient by patient (a patient without resources has none). */
    void writeTo(NdjsonFiles out) throws IOException {
        spill.close();
        Arrays.sort(keys, 0, keyCount);
        long mask = (1L << ENTRY_BITS) - 1;
        try (FileChannel in = FileChannel.open(scratch, StandardOpenOption.READ)) {
            int from = 0;
            while (from < keyCount) {
                int place = (int) (keys[from] >>> ENTRY_BITS);
                int to = from;
                long bytes = 0;
                while (to < keyCount && (int) (keys[to] >>> ENTRY_BITS) == place) {
                    bytes += lengths[(int) (keys[to] & mask)] + 1;
                    to++;
                }
                byte[] header = header(patients.get(place));
                if (out.started() && !out.fits(to - from + 1, bytes + header.length + 1)) {
                    out.cut(false);
                }
                out.writeHeader(header);
                boolean resourceInFile = false;
                for (int k = from; k < to; k++) {
                    int entry = (int) (keys[k] & mask);
                    byte[] json = read(in, offsets[entry], lengths[entry]);
                    if (resourceInFile && !out.fits(1, json.length + 1)) {
                        out.cut(true);
                        out.writeHeader(header);
                    }
                    out.append(json);
                    resourceInFile = true;
                }
                from = to;
            }
        }
    }

    /** The header line of a patient's block. Ids are [A-Za-z0-9-.]{1,64}: nothing to escape. */
    static byte[] header(String patientId) {
        return ("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"header\",\"valueReference\":"
                + "{\"reference\":\"Patient/" + patientId + "\"}}]}").getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] read(FileChannel in, long offset, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (in.read(buffer, offset + buffer.position()) < 0) throw new EOFException("Scratch file is short");
        }
        return buffer.array();
    }

    @Override
    public void close() throws IOException {
        try {
            spill.close();
        } finally {
            Files.deleteIfExists(scratch);
        }
    }
}
