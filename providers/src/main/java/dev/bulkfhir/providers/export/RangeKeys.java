package dev.bulkfhir.providers.export;

import dev.bulkfhir.storage.source.KeyRange;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * How a job records the parts of a type it has finished (its done-types list): the type's name for
 * the whole type, or {@code Type:after:upTo} for one key range (either bound empty when open), e.g.
 * {@code Observation::51234}, {@code Observation:51234:102468}, {@code Observation:102468:}.
 */
final class RangeKeys {

    private RangeKeys() {
    }

    static String key(String type, KeyRange range) {
        if (range.all()) return type;
        return type + ":" + (range.after() == null ? "" : range.after()) + ":" + (range.upTo() == null ? "" : range.upTo());
    }

    /**
     * What of the type is still to do, given a job's done keys: the gaps between its done ranges (all of
     * it when none is done; nothing when the whole type is).
     */
    static List<KeyRange> remaining(String type, Set<String> done) {
        if (done.contains(type)) return List.of();
        List<KeyRange> finished = new ArrayList<>();
        String prefix = type + ":";
        for (String key : done) {
            if (key.startsWith(prefix)) finished.add(parse(key.substring(prefix.length())));
        }
        finished.sort(Comparator.comparingLong(KeyRange::afterOrMin));
        List<KeyRange> gaps = new ArrayList<>();
        Long from = null; // the end of the covered part; null is the very start
        for (KeyRange range : finished) {
            if (from == null ? range.after() != null : range.after() == null || range.after() > from) {
                gaps.add(new KeyRange(from, range.after()));
            }
            if (range.upTo() == null) return gaps;
            from = range.upTo();
        }
        gaps.add(new KeyRange(from, null));
        return gaps;
    }

    private static KeyRange parse(String bounds) {
        int colon = bounds.indexOf(':');
        return new KeyRange(bound(bounds.substring(0, colon)), bound(bounds.substring(colon + 1)));
    }

    private static Long bound(String text) {
        return text.isEmpty() ? null : Long.valueOf(text);
    }
}
