package dev.bulkfhir.providers.export;

import dev.bulkfhir.storage.source.KeyRange;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RangeKeysTest {

    @Test
    void aWholeTypeKeepsItsNameAsKeyAndARangeNamesItsBounds() {
        assertEquals("Observation", RangeKeys.key("Observation", KeyRange.ALL));
        assertEquals("Observation::10", RangeKeys.key("Observation", new KeyRange(null, 10L)));
        assertEquals("Observation:10:20", RangeKeys.key("Observation", new KeyRange(10L, 20L)));
        assertEquals("Observation:20:", RangeKeys.key("Observation", new KeyRange(20L, null)));
    }

    @Test
    void whatRemainsIsEverythingNothingOrTheGapsBetweenDoneRanges() {
        assertEquals(List.of(KeyRange.ALL), RangeKeys.remaining("Observation", Set.of("Patient")));
        assertEquals(List.of(), RangeKeys.remaining("Observation", Set.of("Observation")));
        assertEquals(List.of(), RangeKeys.remaining("Observation",
                Set.of("Observation:10:20", "Observation::10", "Observation:20:")));
        assertEquals(List.of(new KeyRange(null, 10L), new KeyRange(20L, 30L), new KeyRange(40L, null)),
                RangeKeys.remaining("Observation", Set.of("Observation:10:20", "Observation:30:40", "Patient::5")));
        assertEquals(List.of(new KeyRange(10L, 20L)),
                RangeKeys.remaining("Observation", Set.of("Observation:20:", "Observation::10")));
        // "Obs" is not a prefix of "Observation" ranges
        assertEquals(List.of(KeyRange.ALL), RangeKeys.remaining("Obs", Set.of("Observation::10")));
    }
}
