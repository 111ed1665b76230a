package dev.bulkfhir.storage.auth;

import dev.bulkfhir.storage.resource.StorageException;

import javax.sql.DataSource;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Client assertions already used ({@code bf_used_assertion}), shared by every node on the database: the
 * primary key (client_id, jti) lets exactly one insert of a pair succeed, whichever node makes it.
 */
public final class UsedAssertionRepository {

    /** SQLSTATE of a unique or primary key violation, on H2 and PostgreSQL alike. */
    private static final String UNIQUE_VIOLATION = "23505";
    private static final int MAX_JTI = 255;

    /**
     * How often a node deletes the expired rows. Not on every insert: each delete is a commit of its
     * own, written to disk at once, and cost the token endpoint as much as the insert. An expired row
     * met in between is taken over by its insert ({@link #firstUse}), so the rows left a little longer
     * refuse nothing.
     */
    static final Duration PURGE_INTERVAL = Duration.ofSeconds(10);

    private final DataSource dataSource;
    /** When this node deletes the expired rows next ({@link System#nanoTime}). */
    private final AtomicLong nextPurge = new AtomicLong(System.nanoTime());

    public UsedAssertionRepository(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Records the assertion as used until {@code expires}; false if it was used before (on any node)
     * and that use has not expired before {@code now}. Deletes the rows that expired before {@code now}
     * every {@link #PURGE_INTERVAL}, so the table holds little more than the live assertions.
     */
    public boolean firstUse(String clientId, String jti, Instant expires, Instant now) {
        String key = storable(jti);
        try (Connection connection = dataSource.getConnection()) {
            long due = nextPurge.get();
            if (System.nanoTime() - due >= 0 && nextPurge.compareAndSet(due, System.nanoTime() + PURGE_INTERVAL.toNanos())) {
                try (PreparedStatement purge = connection.prepareStatement(
                        "delete from bf_used_assertion where expires_at < ?")) {
                    purge.setObject(1, SigningKeyRepository.time(now));
                    purge.executeUpdate();
                }
            }
            if (insert(connection, clientId, key, expires)) return true;
            // Used before: still refused, unless that use has expired (its row not yet purged).
            try (PreparedStatement expired = connection.prepareStatement(
                    "delete from bf_used_assertion where client_id = ? and jti = ? and expires_at < ?")) {
                expired.setString(1, clientId);
                expired.setString(2, key);
                expired.setObject(3, SigningKeyRepository.time(now));
                // Of two nodes taking over the same expired row, one deletes it: the other refuses.
                return expired.executeUpdate() == 1 && insert(connection, clientId, key, expires);
            }
        } catch (SQLException e) {
            throw new StorageException("Cannot record the client assertion: " + e.getMessage(), e);
        }
    }

    /** False if the (client, jti) row exists. */
    private static boolean insert(Connection connection, String clientId, String jti, Instant expires)
            throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement(
                "insert into bf_used_assertion (client_id, jti, expires_at) values (?, ?, ?)")) {
            insert.setString(1, clientId);
            insert.setString(2, jti);
            insert.setObject(3, SigningKeyRepository.time(expires));
            insert.executeUpdate();
            return true;
        } catch (SQLException e) {
            if (UNIQUE_VIOLATION.equals(e.getSQLState())) return false;
            throw e;
        }
    }

    /** A jti as long as the column allows; a longer one (the JWT sets no limit) as its SHA-256. */
    private static String storable(String jti) {
        if (jti.length() <= MAX_JTI) return jti;
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(jti.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
