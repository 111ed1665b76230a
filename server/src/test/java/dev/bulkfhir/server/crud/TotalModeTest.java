package dev.bulkfhir.server.crud;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class TotalModeTest {

    @Test
    void readsFhirsCodesAndHapisSpellingOfTheEstimate() {
        assertEquals(TotalMode.NONE, TotalMode.parse("none"));
        assertEquals(TotalMode.ESTIMATE, TotalMode.parse("estimate"));
        assertEquals(TotalMode.ESTIMATE, TotalMode.parse("estimated"));
        assertEquals(TotalMode.ACCURATE, TotalMode.parse("accurate"));
    }

    @Test
    void anythingElseIsNoMode() {
        assertNull(TotalMode.parse("exact"));
        assertNull(TotalMode.parse("Accurate"));
        assertNull(TotalMode.parse(""));
    }
}
