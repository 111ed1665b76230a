package dev.bulkfhir.providers.export;

import dev.bulkfhir.storage.export.ExportFile;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.NdjsonFiles;
import dev.bulkfhir.storage.files.FileStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class PatientBlocksTest {

    @TempDir
    Path root;

    @Test
    void blocksStayWholeUnlessLargerThanAFileThenTheHeaderRepeatsInTheNextFile() throws Exception {
        ExportFileStore store = new ExportFileStore(FileStore.directory(root));
        String job = ExportFileStore.newJobId();
        List<ExportFile> files;
        try (PatientBlocks blocks = new PatientBlocks(Files.createTempFile(root, "blocks-", ".tmp"));
                NdjsonFiles out = new NdjsonFiles(store, job, "Patient", false, 5, 1 << 20)) {
            // Any order in: patients come out by id, each block by type rank, then in the order added.
            for (int i = 0; i < 3; i++) blocks.add(line("Observation", "b" + i), "b", 1);
            blocks.add(line("Patient", "c"), "c", 0);
            blocks.add(line("Observation", "ab"), "a", 1);
            blocks.add(line("Patient", "b"), "b", 0);
            blocks.add(line("Patient", "a"), "a", 0);
            for (int i = 3; i < 6; i++) blocks.add(line("Observation", "b" + i), "b", 1);
            blocks.add(line("Observation", "ab"), "b", 1);
            blocks.writeTo(out);
            files = out.finish();
        }
        // a: header + 2 (file 1); b: header + 8 > 5 lines, so a file of its own, cut twice; c: after b's end.
        assertEquals(List.of(
                List.of("Patient/a", "Patient a", "Observation ab"),
                List.of("Patient/b", "Patient b", "Observation b0", "Observation b1", "Observation b2"),
                List.of("Patient/b", "Observation b3", "Observation b4", "Observation b5", "Observation ab"),
                List.of("Patient/c", "Patient c")), files.stream().map(file -> read(store, file)).toList());
        assertEquals(List.of(2L, 4L, 4L, 1L), files.stream().map(ExportFile::resourceCount).toList());
        assertNull(files.get(0).continuesIn());
        assertEquals(files.get(2).id(), files.get(1).continuesIn());
        assertNull(files.get(2).continuesIn());
        try (var left = Files.list(root)) {
            assertEquals(List.of("export"), left.map(path -> path.getFileName().toString()).toList(),
                    "the scratch file is gone");
        }
    }

    @Test
    void aSharedResourceIsStoredOnceAndWrittenIntoTheBlockOfEachOfItsPatients() throws Exception {
        ExportFileStore store = new ExportFileStore(FileStore.directory(root));
        String job = ExportFileStore.newJobId();
        Path shared = Files.createTempFile(root, "shared-", ".tmp");
        byte[] group = line("Group", "g");
        byte[] other = line("Group", "h");
        Files.write(shared, concat(other, group));
        List<ExportFile> files;
        try (PatientBlocks blocks = new PatientBlocks(Files.createTempFile(root, "blocks-", ".tmp"), shared);
                NdjsonFiles out = new NdjsonFiles(store, job, "Patient", false, 100, 1 << 20)) {
            for (String patient : List.of("c", "a", "b")) {
                blocks.addShared(other.length, group.length, patient, 1);
                blocks.add(line("Patient", patient), patient, 0);
            }
            blocks.addShared(0, other.length, "b", 2);
            blocks.writeTo(out);
            files = out.finish();
        }
        assertEquals(List.of(List.of("Patient/a", "Patient a", "Group g", "Patient/b", "Patient b", "Group g",
                "Group h", "Patient/c", "Patient c", "Group g")), files.stream().map(file -> read(store, file)).toList());
        assertEquals(7L, files.get(0).resourceCount());
    }

    private static byte[] concat(byte[] first, byte[] second) {
        byte[] both = java.util.Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, both, first.length, second.length);
        return both;
    }

    private static byte[] line(String type, String id) {
        return ("{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\"}").getBytes(StandardCharsets.UTF_8);
    }

    /** A file's lines: headers as the patient reference, resources as "Type id". */
    private static List<String> read(ExportFileStore store, ExportFile file) {
        try {
            byte[] bytes = store.content(file.location(), file.byteCount()).readAllBytes();
            return new String(bytes, StandardCharsets.UTF_8).lines().map(line -> line.contains("header")
                    ? line.replaceAll(".*\"reference\":\"([^\"]+)\".*", "$1")
                    : line.replaceAll(".*\"resourceType\":\"(\\w+)\",\"id\":\"(\\w+)\".*", "$1 $2")).toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
