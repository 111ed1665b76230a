package dev.bulkfhir.providers.binary;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** One Range header against a content size: the bytes served (206), all of them (200), or 416. */
class ByteRangeTest {

    @ParameterizedTest(name = "{0} of {1} bytes: {2}-{3}")
    @CsvSource(delimiter = '|', value = {
            "bytes=0-0        | 10 | 0 | 0",
            "bytes=0-9        | 10 | 0 | 9",
            "bytes=2-5        | 10 | 2 | 5",
            "bytes=5-         | 10 | 5 | 9",
            "bytes=5-100      | 10 | 5 | 9",
            "bytes=-3         | 10 | 7 | 9",
            "bytes=-100       | 10 | 0 | 9",
            "BYTES=1 - 2      | 10 | 1 | 2",
            "bytes=9-9        | 10 | 9 | 9",
            "bytes=0-999999999999999999 | 10 | 0 | 9",
    })
    void aSingleRangeIsServedWithinTheContent(String header, long size, long first, long last) {
        ByteRange range = parse(header, size);
        assertThat(range).isEqualTo(new ByteRange(first, last));
        assertThat(range.length()).isEqualTo(last - first + 1);
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"", "bytes", "items=0-1", "bytes=0-1,3-4", "bytes=1", "bytes=5-2", "bytes=a-2",
            "bytes=1-b", "bytes=+1-2", "bytes=-", "bytes=1.5-2", "bytes=0-1234567890123456789", "bytes=--1"})
    void whatIsNotOneByteRangeMeansTheWholeContent(String header) {
        assertThat(parse(header, 10)).isNull();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "bytes=10-    | 10",
            "bytes=10-20  | 10",
            "bytes=-0     | 10",
            "bytes=0-     | 0",
            "bytes=-5     | 0",
    })
    void aRangeWhollyOutsideTheContentIsUnsatisfiable(String header, long size) {
        assertThatThrownBy(() -> ByteRange.parse(header, size)).isInstanceOf(ByteRange.Unsatisfiable.class);
    }

    private static ByteRange parse(String header, long size) {
        try {
            return ByteRange.parse(header, size);
        } catch (ByteRange.Unsatisfiable e) {
            throw new AssertionError("unsatisfiable: " + header, e);
        }
    }
}
