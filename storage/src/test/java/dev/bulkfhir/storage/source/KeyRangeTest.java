package dev.bulkfhir.storage.source;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

/** A key range is (after, upTo]: open below, closed above, unbounded where null. */
class KeyRangeTest {

    @ParameterizedTest(name = "({0}, {1}] contains {2}: {3}")
    @CsvSource(nullValues = "-", value = {
            "-,  -,  -9223372036854775808, false",
            "-,  -,  9223372036854775807,  true",
            "10, 20, 10, false",
            "10, 20, 11, true",
            "10, 20, 20, true",
            "10, 20, 21, false",
            "-,  20, -5, true",
            "-,  20, 21, false",
            "10, -,  10, false",
            "10, -,  9223372036854775807, true",
    })
    void containsIsOpenBelowAndClosedAbove(Long after, Long upTo, long key, boolean contained) {
        assertThat(new KeyRange(after, upTo).contains(key)).isEqualTo(contained);
    }

    @Test
    void unboundedSidesAreTheExtremesForSql() {
        assertThat(KeyRange.ALL.all()).isTrue();
        assertThat(KeyRange.ALL.afterOrMin()).isEqualTo(Long.MIN_VALUE);
        assertThat(KeyRange.ALL.upToOrMax()).isEqualTo(Long.MAX_VALUE);
        KeyRange slice = new KeyRange(3L, 7L);
        assertThat(slice.all()).isFalse();
        assertThat(slice.afterOrMin()).isEqualTo(3);
        assertThat(slice.upToOrMax()).isEqualTo(7);
        assertThat(new KeyRange(null, 7L).all()).isFalse();
    }

    @ParameterizedTest
    @CsvSource({"5, 5", "5, 4", "0, -1"})
    void anEmptyRangeIsRefused(long after, long upTo) {
        assertThatIllegalArgumentException().isThrownBy(() -> new KeyRange(after, upTo))
                .withMessageContaining("empty key range");
    }
}
