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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Output organized by patient (IG STU3 {@code organizeOutputBy=Patient}) for one bucket of patients:
 * resources arrive in any order and go as they come to a scratch file, while a small index (patient,
 * type rank, place in the file) grows in memory; {@link #writeTo} then writes each patient's resource
 * block, patients in id order: a {@code Parameters} header naming the patient followed by the resources
 * of its compartment by type rank (Patient first), each type in the order it came.
 *
 * <p>A resource in the compartments of many patients (a Group of thousands) is stored once in a shared
 * file ({@link #addShared}) rather than once per patient, and read back once for a run of blocks.
 *
 * <p>A block goes whole into the current file if it fits there, else it starts a new file; only a block
 * larger than a whole file is cut, and then the header is repeated at the top of the file it goes on in,
 * which the file before names as its continuation.
 */
final class PatientBlocks implements AutoCloseable {

    /** Index keys: patient (22 bits), type rank (8 bits), resource number (33 bits), high to low. */
    private static final int ENTRY_BITS = 33;
    private static final int RANK_BITS = 8;
    private static final long ENTRY_MASK = (1L << ENTRY_BITS) - 1;

    private final List<String> patients = new ArrayList<>();
    private final Map<String, Integer> places = new HashMap<>();
    private final Path scratch;
    /** Where {@link #addShared} entries are, or null. */
    private final Path shared;
    private final OutputStream spill;
    private long position;
    private int entries;
    private long[] offsets = new long[1024];
    private int[] lengths = new int[1024];
    private long[] keys = new long[1024];

    PatientBlocks(Path scratch) throws IOException {
        this(scratch, null);
    }

    /** @param shared the file that {@link #addShared} entries point into, or null */
    PatientBlocks(Path scratch, Path shared) throws IOException {
        this.scratch = scratch;
        this.shared = shared;
        this.spill = new BufferedOutputStream(Files.newOutputStream(scratch, StandardOpenOption.WRITE), 1 << 16);
    }

    /** One resource of {@code patientId}'s block; {@code typeRank} orders the types within the block. */
    void add(byte[] json, String patientId, int typeRank) throws IOException {
        entry(patientId, typeRank, position, json.length);
        spill.write(json);
        position += json.length;
    }

    /** As {@link #add}, for a resource already in the shared file at {@code offset}. */
    void addShared(long offset, int length, String patientId, int typeRank) {
        if (shared == null) throw new IllegalStateException("no shared file");
        entry(patientId, typeRank, -1 - offset, length); // negative: in the shared file
    }

    private void entry(String patientId, int typeRank, long offset, int length) {
        if (typeRank < 0 || typeRank >= 1 << RANK_BITS) throw new IllegalArgumentException("type rank " + typeRank);
        Integer place = places.get(patientId);
        if (place == null) {
            place = patients.size();
            patients.add(patientId);
            places.put(patientId, place);
        }
        int entry = entries++;
        if (entry == offsets.length) {
            offsets = Arrays.copyOf(offsets, entry * 2);
            lengths = Arrays.copyOf(lengths, entry * 2);
            keys = Arrays.copyOf(keys, entry * 2);
        }
        offsets[entry] = offset;
        lengths[entry] = length;
        keys[entry] = ((long) place << (RANK_BITS + ENTRY_BITS)) | ((long) typeRank << ENTRY_BITS) | entry;
    }

    /** Writes the blocks, patients in id order. */
    void writeTo(NdjsonFiles out) throws IOException {
        spill.close();
        // Places in the order of arrival become places in id order.
        Integer[] byId = new Integer[patients.size()];
        for (int i = 0; i < byId.length; i++) byId[i] = i;
        Arrays.sort(byId, (a, b) -> patients.get(a).compareTo(patients.get(b)));
        long[] rankOf = new long[byId.length];
        for (int i = 0; i < byId.length; i++) rankOf[byId[i]] = i;
        int shift = RANK_BITS + ENTRY_BITS;
        for (int k = 0; k < entries; k++) {
            keys[k] = (rankOf[(int) (keys[k] >>> shift)] << shift) | (keys[k] & ((1L << shift) - 1));
        }
        Arrays.sort(keys, 0, entries);
        try (FileChannel in = FileChannel.open(scratch, StandardOpenOption.READ);
                FileChannel common = shared == null ? null : FileChannel.open(shared, StandardOpenOption.READ)) {
            // The shared resource read last: the blocks of a bucket's patients mostly hold the same one.
            long lastShared = 0;
            byte[] lastJson = null;
            int from = 0;
            while (from < entries) {
                long patient = keys[from] >>> shift;
                int to = from;
                long bytes = 0;
                while (to < entries && keys[to] >>> shift == patient) {
                    bytes += lengths[(int) (keys[to] & ENTRY_MASK)] + 1;
                    to++;
                }
                byte[] header = header(patients.get(byId[(int) patient]));
                if (out.started() && !out.fits(to - from + 1, bytes + header.length + 1)) {
                    out.cut(false);
                }
                out.appendHeader(header);
                boolean resourceInFile = false;
                for (int k = from; k < to; k++) {
                    int entry = (int) (keys[k] & ENTRY_MASK);
                    long offset = offsets[entry];
                    byte[] json;
                    if (offset >= 0) {
                        json = read(in, offset, lengths[entry]);
                    } else if (lastJson != null && offset == lastShared) {
                        json = lastJson;
                    } else {
                        json = read(common, -1 - offset, lengths[entry]);
                        lastShared = offset;
                        lastJson = json;
                    }
                    if (resourceInFile && !out.fits(1, json.length + 1)) {
                        out.cut(true);
                        out.appendHeader(header);
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
