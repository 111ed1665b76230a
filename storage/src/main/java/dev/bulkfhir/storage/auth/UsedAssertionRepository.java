package dev.bulkfhir.storage.auth;

import dev.bulkfhir.storage.resource.StorageException;

import javax.sql.DataSource;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HexFormat;

/**
 * Client assertions already used ({@code bf_used_assertion}), shared by every node on the database: the
 * primary key (client_id, jti) lets exactly one insert of a pair succeed, whichever node makes it.
 */
public final class UsedAssertionRepository {

    /** SQLSTATE of a unique or primary key violation, on H2 and PostgreSQL alike. */
    private static final String UNIQUE_VIOLATION = "23505";
    private static final int MAX_JTI = 255;

    private final DataSource dataSource;

    public UsedAssertionRepository(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Records the assertion as used until {@code expires}; false if it was used before (on any node).
     * Deletes the rows that expired before {@code now} first, so the table holds only live assertions.
     */
    public boolean firstUse(String clientId, String jti, Instant expires, Instant now) {
        try (Connection connection = dataSource.getConnection()) {
            try (PreparedStatement purge = connection.prepareStatement(
                    "delete from bf_used_assertion where expires_at < ?")) {
                purge.setObject(1, SigningKeyRepository.time(now));
                purge.executeUpdate();
            }
            try (PreparedStatement insert = connection.prepareStatement(
                    "insert into bf_used_assertion (client_id, jti, expires_at) values (?, ?, ?)")) {
                insert.setString(1, clientId);
                insert.setString(2, storable(jti));
                insert.setObject(3, SigningKeyRepository.time(expires));
                insert.executeUpdate();
                return true;
            } catch (SQLException e) {
                if (UNIQUE_VIOLATION.equals(e.getSQLState())) return false;
                throw e;
            }
        } catch (SQLException e) {
            throw new StorageException("Cannot record the client assertion: " + e.getMessage(), e);
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
