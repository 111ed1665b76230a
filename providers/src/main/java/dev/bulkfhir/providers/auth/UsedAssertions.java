package dev.bulkfhir.providers.auth;

import dev.bulkfhir.storage.auth.UsedAssertionRepository;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where the token endpoint remembers the client assertions it took ({@code client_id} + {@code jti})
 * until they expire, to refuse a replay: in this JVM only, or in the database for every node on it.
 */
public interface UsedAssertions {

    /** Records the assertion; false if it was used before. {@code expires} includes the clock skew. */
    boolean firstUse(String clientId, String jti, Instant expires);

    /** Per node: a replay reaching another node is not seen. */
    static UsedAssertions inMemory() {
        Map<String, Instant> used = new ConcurrentHashMap<>();
        return (clientId, jti, expires) -> {
            Instant now = Instant.now();
            used.values().removeIf(expiry -> expiry.isBefore(now));
            return used.putIfAbsent(clientId + " " + jti, expires) == null;
        };
    }

    /** In the database's {@code bf_used_assertion}: a replay is refused whichever node it reaches. */
    static UsedAssertions inDatabase(UsedAssertionRepository table) {
        return (clientId, jti, expires) -> table.firstUse(clientId, jti, expires, Instant.now());
    }
}
