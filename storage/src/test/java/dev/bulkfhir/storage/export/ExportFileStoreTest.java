package dev.bulkfhir.storage.export;

import dev.bulkfhir.storage.files.FileStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

/** The id shapes that keep export files apart from stored Binaries, and the folder they live in. */
class ExportFileStoreTest {

    @Test
    void newIdsHaveTheirShapes() {
        String job = ExportFileStore.newJobId();
        String file = ExportFileStore.newFileId();
        assertThat(job).matches("[0-9a-f]{32}").isNotEqualTo(ExportFileStore.newJobId());
        assertThat(ExportFileStore.isJobId(job)).isTrue();
        assertThat(ExportFileStore.isFileId(file)).isTrue();
        assertThat(ExportFileStore.isFileId(job)).isFalse();
        assertThat(ExportFileStore.isJobId(file)).isFalse();
        assertThat(ExportFileStore.location(job, file)).isEqualTo(job + "/" + file + ".ndjson");
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"", "bulk-", "bulk-0123456789abcdef0123456789abcde", "bulk-0123456789ABCDEF0123456789abcdef",
            "bulk-0123456789abcdef0123456789abcdef0", "xbulk-0123456789abcdef0123456789abcdef", "Patient",
            "bulk-0123456789abcdef0123456789abcdeg", "bulk-0123456789abcdef0123456789abcdef\n"})
    void whatIsNotAFileIdIsLeftToStoredBinaries(String id) {
        assertThat(ExportFileStore.isFileId(id)).isFalse();
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
            "0123456789ABCDEF0123456789abcdef", "../3456789abcdef0123456789abcdef"})
    void whatIsNotAJobIdIsRefusedAsAFolder(String id) {
        assertThat(ExportFileStore.isJobId(id)).isFalse();
        ExportFileStore store = new ExportFileStore(FileStore.directory(Path.of("unused")));
        assertThatIllegalArgumentException().isThrownBy(() -> store.deleteJob(id));
    }

    @Test
    void aLocationReadBackIsCheckedBeforeItIsUsed(@TempDir Path root) {
        ExportFileStore store = new ExportFileStore(FileStore.directory(root));
        String job = ExportFileStore.newJobId();
        for (String location : new String[] {"../../etc/passwd", job + "/../x.ndjson", job + "/Patient.ndjson",
                ExportFileStore.location(job, ExportFileStore.newFileId()) + "/x", null}) {
            assertThatIllegalArgumentException().isThrownBy(() -> store.content(location, 1))
                    .withMessageContaining("Not an export file location");
        }
    }

    @Test
    void deleteUnlistedKeepsOnlyTheListedFiles(@TempDir Path root) throws Exception {
        ExportFileStore store = new ExportFileStore(FileStore.directory(root));
        String job = ExportFileStore.newJobId();
        String kept = ExportFileStore.location(job, ExportFileStore.newFileId());
        String partial = ExportFileStore.location(job, ExportFileStore.newFileId());
        String otherJob = ExportFileStore.location(ExportFileStore.newJobId(), ExportFileStore.newFileId());
        for (String location : new String[] {kept, partial, otherJob}) {
            try (var upload = store.create(location)) {
                upload.write(new byte[] {'x'});
            }
        }
        store.deleteUnlisted(job, Set.of(kept));
        assertThat(store.content(kept, 1).isAvailable()).isTrue();
        assertThat(store.content(partial, 1).isAvailable()).isFalse();
        assertThat(store.content(otherJob, 1).isAvailable()).isTrue();
        store.deleteJob(job);
        assertThat(store.content(kept, 1).isAvailable()).isFalse();
        assertThat(store.content(otherJob, 1).isAvailable()).isTrue();
    }
}
