package dev.bulkfhir.storage.jpa;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A read-only transaction that sees the database as of its first read, whatever commits meanwhile: H2's
 * {@code SNAPSHOT} isolation, PostgreSQL's {@code REPEATABLE READ} (a snapshot there). The connection is
 * given back as it was found.
 */
final class Snapshot {

    private final Connection connection;
    private final boolean autoCommit;
    private final int isolation;

    private Snapshot(Connection connection) throws SQLException {
        this.connection = connection;
        this.autoCommit = connection.getAutoCommit();
        this.isolation = connection.getTransactionIsolation();
    }

    static Snapshot begin(Connection connection) throws SQLException {
        Snapshot snapshot = new Snapshot(connection);
        if (!snapshot.autoCommit) connection.rollback(); // no transaction may be open when the isolation changes
        connection.setAutoCommit(false);
        if (connection.getMetaData().getDatabaseProductName().startsWith("H2")) {
            try (Statement statement = connection.createStatement()) {
                statement.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SNAPSHOT");
            }
        } else {
            connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        }
        return snapshot;
    }

    void end() throws SQLException {
        connection.rollback(); // read only: nothing to keep
        connection.setTransactionIsolation(isolation);
        connection.setAutoCommit(autoCommit);
    }
}
