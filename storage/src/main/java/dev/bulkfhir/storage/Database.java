package dev.bulkfhir.storage;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfoService;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Locale;

/**
 * The connection pool and schema of one database (H2 or PostgreSQL). Opening it migrates the
 * schema with Flyway, in a history table of our own so that a host's migrations are untouched.
 */
public final class Database implements AutoCloseable {

    private final HikariDataSource dataSource;

    private Database(HikariDataSource dataSource) {
        this.dataSource = dataSource;
    }

    public static Database open(String jdbcUrl, String user, String password, int maxPoolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        if (user != null) config.setUsername(user);
        if (password != null) config.setPassword(password);
        config.setMaximumPoolSize(maxPoolSize);
        config.setPoolName("bulk-fhir");
        config.setAutoCommit(true);
        HikariDataSource ds = new HikariDataSource(config);
        try {
            migrate(ds);
        } catch (RuntimeException e) {
            ds.close();
            throw e;
        }
        return new Database(ds);
    }

    /**
     * The embedded H2 file database in a directory ({@code bulkfhir.mv.db}), for a server: each commit is
     * written to the file at once ({@code WRITE_DELAY=0}). With H2's default (half a second later, in the
     * background) a process killed right after an answer lost what the answer acknowledged, e.g. an
     * export's kickoff or cancel.
     */
    public static String h2Url(java.nio.file.Path directory) {
        return h2Url(directory, 0);
    }

    /**
     * The same database for a bulk load, which acknowledges nothing before it ends (and closes the
     * database, which writes everything): commits are written in the background, half a second later,
     * as H2 does by default. Measured on 300,000 resources, writing each commit at once cost 10-17 %.
     */
    public static String h2BulkLoadUrl(java.nio.file.Path directory) {
        return h2Url(directory, 500);
    }

    /** H2 keeps WRITE_DELAY in the database, so each URL states its own. */
    private static String h2Url(java.nio.file.Path directory, int writeDelayMillis) {
        return "jdbc:h2:file:" + directory.toAbsolutePath().resolve("bulkfhir") + ";DB_CLOSE_ON_EXIT=FALSE;WRITE_DELAY="
                + writeDelayMillis;
    }

    /** Creates or upgrades our tables in any data source, e.g. a host's own database. */
    public static void migrate(DataSource dataSource) {
        flyway(dataSource).migrate();
    }

    /** Whether every migration this build carries has been applied, none failed (for readiness probes). */
    public static boolean migrated(DataSource dataSource) {
        MigrationInfoService info = flyway(dataSource).info();
        return info.pending().length == 0 && info.current() != null
                && info.current().getState().isApplied() && !info.current().getState().isFailed();
    }

    private static Flyway flyway(DataSource dataSource) {
        return Flyway.configure()
                .dataSource(dataSource)
                .table("bf_schema_history")
                .locations("classpath:db/migration/" + vendor(dataSource))
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .load();
    }

    /** The migration folder for the database product: {@code h2} or {@code postgresql}. */
    private static String vendor(DataSource dataSource) {
        try (Connection connection = dataSource.getConnection()) {
            String product = connection.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT);
            if (product.contains("h2")) return "h2";
            if (product.contains("postgres")) return "postgresql";
            throw new IllegalStateException("Unsupported database: " + product + " (use H2 or PostgreSQL)");
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot connect to the database: " + e.getMessage(), e);
        }
    }

    public DataSource dataSource() {
        return dataSource;
    }

    @Override
    public void close() {
        dataSource.close();
    }
}
