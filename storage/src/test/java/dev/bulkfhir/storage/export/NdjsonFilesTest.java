package dev.bulkfhir.storage.export;

import dev.bulkfhir.storage.files.FileStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

/** How one type's NDJSON output is cut into files, named, counted and given up. */
class NdjsonFilesTest {

    @TempDir
    Path root;
    ExportFileStore store;
    String job;

    @BeforeEach
    void store() {
        store = new ExportFileStore(FileStore.directory(root));
        job = ExportFileStore.newJobId();
    }

    private static byte[] line(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private String content(ExportFile file) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        store.content(file.location(), file.byteCount()).copyTo(out, 0, file.byteCount());
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Lines of 4 bytes ("{n}" and a newline, n one digit) under limits of count and bytes. */
    @ParameterizedTest(name = "{0} lines, at most {1} a file and {2} bytes: files of {3}")
    @CsvSource({
            "0, 10, 1000, ''",
            "1, 10, 1000, 1",
            "5, 2, 1000, 2 2 1",
            "5, 10, 8, 2 2 1",
            "5, 10, 9, 2 2 1",
            "6, 3, 8, 2 2 2",
            "7, 3, 12, 3 3 1",
            "3, 1, 1, 1 1 1",
    })
    void aNewFileStartsWhenTheNextLineWouldPassALimit(int lines, long maxResources, long maxBytes, String counts)
            throws IOException {
        List<ExportFile> files;
        try (NdjsonFiles output = new NdjsonFiles(store, job, "Observation", false, maxResources, maxBytes)) {
            for (int i = 0; i < lines; i++) {
                output.write(line("{" + i + "}"));
            }
            files = output.finish();
        }
        assertThat(files).extracting(ExportFile::resourceCount)
                .containsExactlyElementsOf(counts.isEmpty() ? List.of()
                        : List.of(counts.split(" ")).stream().map(Long::valueOf).toList());
        int seq = 1;
        StringBuilder all = new StringBuilder();
        for (ExportFile file : files) {
            assertThat(file.seq()).isEqualTo(seq++);
            assertThat(file.jobId()).isEqualTo(job);
            assertThat(file.type()).isEqualTo("Observation");
            assertThat(file.errorFile()).isFalse();
            assertThat(file.location()).isEqualTo(ExportFileStore.location(job, file.id()));
            assertThat(ExportFileStore.isFileId(file.id())).isTrue();
            assertThat(file.byteCount()).isEqualTo(4 * file.resourceCount());
            all.append(content(file));
        }
        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < lines; i++) expected.append('{').append(i).append("}\n");
        assertThat(all).hasToString(expected.toString());
    }

    @Test
    void aLineLargerThanTheByteLimitStillGetsAFileOfItsOwn() throws IOException {
        try (NdjsonFiles output = new NdjsonFiles(store, job, "Binary", false, 10, 5)) {
            output.write(line("{}"));
            output.write(line("{\"big\":true}"));
            output.write(line("{}"));
            assertThat(output.finish()).extracting(ExportFile::resourceCount).containsExactly(1L, 1L, 1L);
        }
    }

    @Test
    void headersCountAsLinesButNotAsResources() throws IOException {
        try (NdjsonFiles output = new NdjsonFiles(store, job, "Patient", false, 3, 1000)) {
            output.appendHeader(line("{\"header\":1}"));
            output.append(line("{\"a\":1}"));
            output.append(line("{\"a\":2}"));
            assertThat(output.fits(1, 1)).as("three lines fill the file").isFalse();
            output.cut(true);
            output.append(line("{\"a\":3}"));
            List<ExportFile> files = output.finish();
            assertThat(files).extracting(ExportFile::resourceCount).containsExactly(2L, 1L);
            assertThat(files.get(0).continuesIn()).isEqualTo(files.get(1).id());
            assertThat(files.get(1).continuesIn()).isNull();
            assertThat(content(files.get(0))).isEqualTo("{\"header\":1}\n{\"a\":1}\n{\"a\":2}\n");
        }
    }

    @Test
    void fitsAsksAboutTheOpenFileOrAnEmptyOne() throws IOException {
        try (NdjsonFiles output = new NdjsonFiles(store, job, "Patient", false, 2, 10)) {
            assertThat(output.started()).isFalse();
            assertThat(output.fits(2, 10)).isTrue();
            assertThat(output.fits(3, 10)).isFalse();
            assertThat(output.fits(1, 11)).isFalse();
            output.append(line("{1}"));
            assertThat(output.started()).isTrue();
            assertThat(output.fits(1, 6)).isTrue();
            assertThat(output.fits(1, 7)).isFalse();
            assertThat(output.fits(2, 1)).isFalse();
            output.cut(false);
            assertThat(output.started()).isFalse();
            output.finish();
        }
    }

    @Test
    void errorAndDeletedFilesAreMarked() throws IOException {
        try (NdjsonFiles errors = new NdjsonFiles(store, job, "OperationOutcome", true, 10, 100);
                NdjsonFiles deleted = new NdjsonFiles(store, job, "Bundle", false, 10, 100, true)) {
            errors.write(line("{}"));
            deleted.write(line("{}"));
            ExportFile error = errors.finish().get(0);
            ExportFile deletion = deleted.finish().get(0);
            assertThat(error.errorFile()).isTrue();
            assertThat(error.deletedFile()).isFalse();
            assertThat(deletion.errorFile()).isFalse();
            assertThat(deletion.deletedFile()).isTrue();
        }
    }

    @Test
    void closingWithoutFinishDeletesEveryFileWritten() throws IOException {
        try (NdjsonFiles output = new NdjsonFiles(store, job, "Observation", false, 1, 100)) {
            output.write(line("{1}"));
            output.write(line("{2}"));
            output.write(line("{3}"));
            assertThat(regularFiles()).isNotEmpty();
        }
        assertThat(regularFiles()).isEmpty();
    }

    private List<Path> regularFiles() throws IOException {
        try (var walk = Files.walk(root)) {
            return walk.filter(Files::isRegularFile).toList();
        }
    }

    @ParameterizedTest
    @CsvSource({"0, 1", "1, 0", "-1, 10"})
    void limitsMustBePositive(long maxResources, long maxBytes) {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new NdjsonFiles(store, job, "Patient", false, maxResources, maxBytes));
    }
}
