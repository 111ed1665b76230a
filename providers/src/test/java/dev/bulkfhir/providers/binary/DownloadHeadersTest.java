package dev.bulkfhir.providers.binary;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/** What a browser may show in place, the name to download as, and the name a client uploaded with. */
class DownloadHeadersTest {

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', value = {
            "application/pdf # true",
            "IMAGE/PNG; charset=x # true",
            "video/mp4 # true",
            "audio/ogg # true",
            "text/html # false",
            "image/svg+xml # false",
            "application/xml # false",
            "text/javascript # false",
            "`` # false",
    })
    void onlyPassiveContentIsShownInPlace(String contentType, boolean passive) {
        assertThat(DownloadHeaders.isPassive(contentType)).isEqualTo(passive);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', nullValues = "-", value = {
            "report.pdf # report.pdf",
            "../../etc/passwd # passwd",
            "C:\\Users\\me\\scan.png # scan.png",
            "...hidden # hidden",
            "a\"b\tc.txt # a_b_c.txt",
            "`  spaced.txt  ` # spaced.txt",
            "dir/ # -",
            ". # -",
            "- # -",
    })
    void sanitizeKeepsOnlyASafeBaseName(String filename, String safe) {
        assertThat(DownloadHeaders.sanitize(filename)).isEqualTo(safe);
    }

    @ParameterizedTest(name = "{0}, {1}, {2} -> {3}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', nullValues = "-", value = {
            "- # b1 # application/pdf # b1.pdf",
            "- # b1 # application/x-unknown # b1.bin",
            "- # b1 # application/fhir+ndjson; charset=utf-8 # b1.ndjson",
            "report # b1 # application/pdf # report.pdf",
            "report.final # b1 # application/pdf # report.final",
            "../ # b1 # image/jpeg # b1.jpg",
    })
    void theDownloadNameIsTheKnownOneOrTheIdWithAnExtension(String known, String id, String contentType,
            String name) {
        assertThat(DownloadHeaders.filename(known, id, contentType)).isEqualTo(name);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', nullValues = "-", value = {
            "true # - # attachment",
            "false # a.pdf # inline; filename=\"a.pdf\"",
            "true # 100%.txt # attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt",
            "true # Café.pdf # attachment; filename=\"Caf_.pdf\"; filename*=UTF-8''Caf%C3%A9.pdf",
            "true # a b.txt # attachment; filename=\"a b.txt\"",
    })
    void dispositionNamesTheFileInAsciiAndUtf8(boolean attachment, String filename, String header) {
        assertThat(DownloadHeaders.disposition(attachment, filename)).isEqualTo(header);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', nullValues = "-", value = {
            "attachment; filename=\"scan.png\" # scan.png",
            "attachment; filename=scan.png # scan.png",
            "form-data; name=x; filename=\"a \\\"q\\\".txt\" # a _q_.txt",
            "attachment; filename*=UTF-8''Caf%C3%A9.pdf; filename=\"Cafe.pdf\" # Café.pdf",
            "attachment; filename*=utf-8''a+b.pdf # a+b.pdf",
            "attachment; filename*=UTF-8''%ZZ.pdf; filename=\"fallback.pdf\" # fallback.pdf",
            "attachment; filename*=ISO-8859-1''x.pdf; filename=\"plain.pdf\" # plain.pdf",
            "attachment; filename=\"../../x.sh\" # x.sh",
            "attachment # -",
            "`  ` # -",
            "- # -",
    })
    void theUploadedNameIsReadFromEitherFormAndSanitized(String header, String filename) {
        assertThat(DownloadHeaders.filenameFromRequest(header)).isEqualTo(filename);
    }
}
