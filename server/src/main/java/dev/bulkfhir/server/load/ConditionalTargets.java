package dev.bulkfhir.server.load;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Conditional-create criteria seen so far in this load ({@code Organization?identifier=s|v} to
 * {@code Organization/id}), so that a conditional reference in a later file can be stored as a
 * plain one. Bounded: past {@link #LIMIT} criteria, new ones are not remembered.
 */
final class ConditionalTargets {

    static final int LIMIT = 200_000;

    private final ConcurrentHashMap<String, String> targets = new ConcurrentHashMap<>();

    void put(String criteria, String target) {
        if (targets.size() < LIMIT || targets.containsKey(criteria)) {
            targets.put(criteria, target);
        }
    }

    String get(String criteria) {
        return targets.get(criteria);
    }
}
