package dev.bulkfhir.storage.auth;

import dev.bulkfhir.storage.resource.StorageException;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Optional;

/**
 * The token signing keys of all nodes ({@code bf_signing_key}): the newest unretired key signs, every
 * stored key verifies. The private key is kept as JWK text: whoever reads this table can sign tokens.
 */
public final class SigningKeyRepository {

    /** A key as stored; {@code retired} is null while it is the one that signs. */
    public record StoredKey(String kid, String privateJwk, Instant created, Instant retired) {}

    private static final String COLUMNS = "select kid, private_jwk, created_at, retired_at from bf_signing_key";

    private final DataSource dataSource;

    public SigningKeyRepository(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** The key that signs now: the newest one not retired (two nodes rotating at once may leave two). */
    public Optional<StoredKey> current() {
        return one(COLUMNS + " where retired_at is null order by created_at desc, kid desc fetch first 1 rows only");
    }

    public Optional<StoredKey> find(String kid) {
        return one(COLUMNS + " where kid = ?", kid);
    }

    /**
     * Stores {@code kid} as the key that signs from {@code created} on, retires every other, and deletes
     * those retired before {@code forgetRetiredBefore} (no token they signed can still be valid).
     */
    public void rotate(String kid, String privateJwk, Instant created, Instant forgetRetiredBefore) {
        try (Connection connection = dataSource.getConnection()) {
            connection.setAutoCommit(false);
            try {
                update(connection, "delete from bf_signing_key where retired_at < ?", time(forgetRetiredBefore));
                update(connection, "update bf_signing_key set retired_at = ? where retired_at is null", time(created));
                update(connection, "insert into bf_signing_key (kid, private_jwk, created_at) values (?, ?, ?)", kid,
                        privateJwk, time(created));
                connection.commit();
            } catch (SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            } finally {
                connection.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new StorageException("Cannot store a new signing key: " + e.getMessage(), e);
        }
    }

    private Optional<StoredKey> one(String sql, Object... parameters) {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement statement = connection.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) statement.setObject(i + 1, parameters[i]);
            try (ResultSet row = statement.executeQuery()) {
                if (!row.next()) return Optional.empty();
                OffsetDateTime retired = row.getObject(4, OffsetDateTime.class);
                return Optional.of(new StoredKey(row.getString(1), row.getString(2),
                        row.getObject(3, OffsetDateTime.class).toInstant(), retired == null ? null : retired.toInstant()));
            }
        } catch (SQLException e) {
            throw new StorageException("Cannot read the signing keys: " + e.getMessage(), e);
        }
    }

    private static void update(Connection connection, String sql, Object... parameters) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) statement.setObject(i + 1, parameters[i]);
            statement.executeUpdate();
        }
    }

    static OffsetDateTime time(Instant instant) {
        return instant.atOffset(ZoneOffset.UTC);
    }
}
