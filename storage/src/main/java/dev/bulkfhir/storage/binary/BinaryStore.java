package dev.bulkfhir.storage.binary;

import dev.bulkfhir.storage.files.FileStore;
import dev.bulkfhir.storage.files.FileUpload;
import dev.bulkfhir.storage.resource.StorageException;

import javax.sql.DataSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Binary content of the built-in store, as bytes: small content inline in the database, larger
 * content in the file store, both streamed in and out in constant memory. Rows are written by
 * {@code ResourceStore} inside the transaction that writes the Binary's version, so a version and
 * its content commit together.
 */
public final class BinaryStore implements BinarySource {

    public static final int DEFAULT_INLINE_THRESHOLD = 64 * 1024;
    /** Inline content is read into memory whole, so it must stay small. */
    public static final int MAX_INLINE_THRESHOLD = 1024 * 1024;

    /** Ids as FHIR R4 allows them (the same rule as ResourceStore): anything else cannot exist. */
    private static final Pattern VALID_ID = Pattern.compile("[A-Za-z0-9\\-.]{1,64}");

    /** A media type (type/subtype, optional parameters, no control characters) that fits its column. */
    private static final Pattern MEDIA_TYPE = Pattern.compile(
            "[A-Za-z0-9!#$%&'*+.^_`|~-]+/[A-Za-z0-9!#$%&'*+.^_`|~-]+(\\s*;[^\\x00-\\x1f\\x7f]*)?");

    private static final String COLUMNS = "r.version, r.last_updated, r.deleted, r.json, b.content_type,"
            + " b.security_context, b.filename, b.content_size, b.inline_data, b.store_key,"
            + " (SELECT MIN(t.title) FROM bf_binary_title t WHERE t.binary_id = r.res_id)";

    private final DataSource dataSource;
    private final ContentFiles files;
    private final int inlineThreshold;

    /** The standard layout: content over the threshold in {@code binaries/} under the data directory. */
    public static BinaryStore inDataDirectory(DataSource dataSource, Path dataDir, int inlineThreshold) {
        return new BinaryStore(dataSource, FileStore.directory(dataDir), inlineThreshold);
    }

    /**
     * @param files           where content over the threshold goes (under {@code binaries/})
     * @param inlineThreshold content of at most this many bytes is kept in the database
     */
    public BinaryStore(DataSource dataSource, FileStore files, int inlineThreshold) {
        if (inlineThreshold < 0 || inlineThreshold > MAX_INLINE_THRESHOLD) {
            throw new IllegalArgumentException("The inline threshold must be between 0 and " + MAX_INLINE_THRESHOLD
                    + " bytes, not " + inlineThreshold);
        }
        this.dataSource = dataSource;
        this.files = new ContentFiles(files);
        this.inlineThreshold = inlineThreshold;
    }

    private BinaryStore(DataSource dataSource) {
        this.dataSource = dataSource;
        this.files = null;
        this.inlineThreshold = Integer.MAX_VALUE;
    }

    /**
     * A store without a file store: all content in the database. For tools that write Binaries
     * already held in memory (e.g. a loader); a server should give a directory.
     */
    public static BinaryStore inDatabase(DataSource dataSource) {
        return new BinaryStore(dataSource);
    }

    /** Whether a Binary may have this contentType: a media type of at most 255 characters. */
    public static boolean isValidContentType(String contentType) {
        return contentType != null && contentType.length() <= 255 && MEDIA_TYPE.matcher(contentType).matches();
    }

    public int inlineThreshold() {
        return inlineThreshold;
    }

    /** Receives content from a stream, in constant memory whatever its size. */
    public StagedContent stage(InputStream in) throws IOException {
        if (files == null) {
            return StagedContent.inline(in.readAllBytes());
        }
        byte[] head = in.readNBytes(inlineThreshold + 1);
        if (head.length <= inlineThreshold) {
            return StagedContent.inline(head);
        }
        String key = ContentFiles.newKey();
        long size = head.length;
        FileUpload out = files.create(key);
        try {
            out.write(head);
            byte[] buffer = new byte[ContentFiles.BUFFER_SIZE];
            for (int read; (read = in.read(buffer)) >= 0; ) {
                out.write(buffer, 0, read);
                size += read;
            }
            out.close(); // durable before the row that points at it commits
        } catch (IOException | RuntimeException e) {
            out.abort();
            throw e;
        }
        return StagedContent.stored(key, files, size);
    }

    /** Receives content already in memory (e.g. a parsed Binary's data). */
    public StagedContent stage(byte[] bytes) {
        if (files == null || bytes.length <= inlineThreshold) {
            return StagedContent.inline(bytes);
        }
        try {
            return stage(new java.io.ByteArrayInputStream(bytes));
        } catch (IOException e) {
            throw new UncheckedIOException("Could not write to the file store in " + files.store().describe(), e);
        }
    }

    /** Records the content of one Binary version; called by ResourceStore in the version's transaction. */
    public void insert(Connection connection, String id, long version, String contentType, String securityContext,
            String filename, StagedContent content) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "INSERT INTO bf_binary (res_id, version, content_type, security_context, filename, content_size,"
                        + " inline_data, store_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            statement.setString(1, id);
            statement.setLong(2, version);
            statement.setString(3, contentType);
            statement.setString(4, securityContext);
            statement.setString(5, filename);
            statement.setLong(6, content.size());
            statement.setBytes(7, content.inlineBytes());
            statement.setString(8, content.storeKey());
            statement.executeUpdate();
        }
    }

    /** Replaces the download names a DocumentReference gives to Binaries (Binary id to title). */
    public void replaceTitles(Connection connection, String documentId, Map<String, String> titles)
            throws SQLException {
        try (PreparedStatement statement =
                connection.prepareStatement("DELETE FROM bf_binary_title WHERE document_id = ?")) {
            statement.setString(1, documentId);
            statement.executeUpdate();
        }
        if (titles.isEmpty()) {
            return;
        }
        try (PreparedStatement statement = connection.prepareStatement(
                "INSERT INTO bf_binary_title (document_id, binary_id, title) VALUES (?, ?, ?)")) {
            for (Map.Entry<String, String> title : titles.entrySet()) {
                statement.setString(1, documentId);
                statement.setString(2, title.getKey());
                statement.setString(3, title.getValue());
                statement.addBatch();
            }
            statement.executeBatch();
        }
    }

    @Override
    public Optional<BinaryDocument> find(String id, Long version) {
        if (id == null || !VALID_ID.matcher(id).matches()) {
            return Optional.empty();
        }
        try (Connection connection = dataSource.getConnection()) {
            Optional<BinaryDocument> current = query(connection, "SELECT " + COLUMNS + " FROM bf_resource r"
                    + " LEFT JOIN bf_binary b ON b.res_id = r.res_id AND b.version = r.version"
                    + " WHERE r.res_type = 'Binary' AND r.res_id = ?", id, null);
            if (version == null || current.isEmpty() || current.get().version() == version) {
                return current;
            }
            return query(connection, "SELECT " + COLUMNS + " FROM bf_resource_history r"
                    + " LEFT JOIN bf_binary b ON b.res_id = r.res_id AND b.version = r.version"
                    + " WHERE r.res_type = 'Binary' AND r.res_id = ? AND r.version = ?", id, version);
        } catch (SQLException e) {
            throw new StorageException("Database read failed: " + e.getMessage(), e);
        }
    }

    private Optional<BinaryDocument> query(Connection connection, String sql, String id, Long version)
            throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setString(1, id);
            if (version != null) {
                statement.setLong(2, version);
            }
            try (ResultSet row = statement.executeQuery()) {
                if (!row.next()) {
                    return Optional.empty();
                }
                boolean deleted = row.getBoolean(3);
                String storeKey = row.getString(10);
                BinaryContent content = null;
                if (!deleted) {
                    byte[] inline = row.getBytes(9);
                    content = storeKey != null
                            ? requireFiles().content(storeKey, row.getLong(8))
                            : BinaryContent.of(inline == null ? new byte[0] : inline);
                }
                String filename = row.getString(7);
                return Optional.of(new BinaryDocument(id, row.getLong(1), Instant.ofEpochMilli(row.getLong(2)),
                        deleted, row.getString(5), row.getString(6), filename != null ? filename : row.getString(11),
                        row.getBytes(4), content));
            }
        }
    }

    private ContentFiles requireFiles() {
        if (files == null) {
            throw new StorageException("This Binary's content is in the file store, but the store was opened"
                    + " without a file store", null);
        }
        return files;
    }
}
