package dev.bulkfhir.providers.auth;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.JSONArrayUtils;
import com.nimbusds.jose.util.JSONObjectUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.text.ParseException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The registered clients, from a JSON file: an array of RFC 7591 client metadata objects,
 *
 * <pre>
 * [{"client_id": "my-app", "scope": "system/*.read", "jwks": {"keys": [ {public JWK} ]}},
 *  {"client_id": "other",  "scope": "system/Patient.rs", "jwks_uri": "keys/other.jwks"}]
 * </pre>
 *
 * {@code jwks_uri} is a file path (relative to the clients file), a {@code file:} URI, or an
 * http(s) URL whose keys are fetched and cached. The file may be missing (no clients yet); it is
 * read again whenever it changes (its modification time or size), so {@code keygen --clients FILE}
 * needs no restart, and removing a client or narrowing its scope takes effect for the tokens it
 * already holds too ({@link #recheck}). A change that does not parse is logged and the clients before
 * it stay.
 */
public final class ClientRegistry {

    private static final Logger log = LoggerFactory.getLogger(ClientRegistry.class);

    /** Requests see the file as it was at most this long ago: one stat per interval, not per request. */
    static final long RECHECK_NANOS = Duration.ofSeconds(1).toNanos();

    private final Path file;
    private volatile Snapshot snapshot;
    /** When requests last looked at the file ({@link System#nanoTime}). */
    private volatile long checkedAt = System.nanoTime();

    private record Snapshot(FileTime modified, long size, Map<String, RegisteredClient> clients) {
    }

    private ClientRegistry(Path file, Snapshot snapshot) {
        this.file = file;
        this.snapshot = snapshot;
    }

    /** Reads the file now, so that a broken one stops the server at start. */
    public static ClientRegistry load(Path file) throws IOException {
        return new ClientRegistry(file, read(file));
    }

    public Path file() {
        return file;
    }

    /** The client as the file registers it now (the file is looked at on every call: for token requests). */
    public RegisteredClient find(String clientId) {
        return current().clients().get(clientId);
    }

    public int size() {
        return current().clients().size();
    }

    /**
     * What a token issued earlier still allows: its scopes cut to those its client is registered for
     * now. Cheap enough for every request: the file is looked at no more than once a second.
     *
     * @throws InvalidTokenException if the client is no longer registered
     */
    ClientAccess recheck(ClientAccess issued) throws InvalidTokenException {
        long now = System.nanoTime();
        Snapshot known = snapshot;
        if (now - checkedAt >= RECHECK_NANOS) {
            checkedAt = now;
            known = current();
        }
        RegisteredClient client = known.clients().get(issued.clientId());
        if (client == null) {
            throw new InvalidTokenException("The access token's client '" + issued.clientId()
                    + "' is no longer registered with this server.");
        }
        return ClientAccess.of(issued.clientId(), SmartScope.grant(issued.scopes(), client.scopes()));
    }

    private Snapshot current() {
        Snapshot known = snapshot;
        FileTime modified = modified(file);
        long size = size(file);
        if (!modified.equals(known.modified()) || size != known.size()) {
            synchronized (this) {
                known = snapshot;
                if (!modified.equals(known.modified()) || size != known.size()) {
                    try {
                        known = read(file);
                        log.info("Clients file {} changed: {} client(s) registered", file, known.clients().size());
                    } catch (IOException e) {
                        log.error("Clients file {} changed but cannot be used, keeping the {} client(s) registered"
                                + " before: {}", file, known.clients().size(), e.getMessage());
                        known = new Snapshot(modified, size, known.clients()); // don't retry until it changes again
                    }
                    snapshot = known;
                }
            }
        }
        return known;
    }

    private static Snapshot read(Path file) throws IOException {
        FileTime modified = modified(file);
        long size = size(file);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return new Snapshot(modified, size, Map.of());
        }
        try {
            return new Snapshot(modified, size, parse(text, file.toAbsolutePath().getParent()));
        } catch (IllegalArgumentException e) {
            throw new IOException("Clients file " + file + ": " + e.getMessage(), e);
        }
    }

    /** The clients of a clients file's text; {@code baseDir} resolves relative jwks_uri paths. */
    static Map<String, RegisteredClient> parse(String json, Path baseDir) {
        List<Object> entries;
        try {
            entries = JSONArrayUtils.parse(json);
        } catch (ParseException e) {
            throw new IllegalArgumentException("not a JSON array of client objects: " + e.getMessage(), e);
        }
        Map<String, RegisteredClient> clients = new LinkedHashMap<>();
        for (int i = 0; i < entries.size(); i++) {
            String where = "entry " + (i + 1);
            try {
                if (!(entries.get(i) instanceof Map<?, ?>)) {
                    throw new IllegalArgumentException("is not a JSON object");
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> entry = (Map<String, Object>) entries.get(i);
                String clientId = JSONObjectUtils.getString(entry, "client_id");
                if (clientId == null || clientId.isBlank()) {
                    throw new IllegalArgumentException("has no client_id");
                }
                where += " (client_id '" + clientId + "')";
                if (clientId.equals(ClientAccess.ANONYMOUS_ID)) {
                    throw new IllegalArgumentException("uses the name of the owner of everything done with auth off");
                }
                if (clients.containsKey(clientId)) {
                    throw new IllegalArgumentException("repeats a client_id");
                }
                clients.put(clientId, client(clientId, entry, baseDir));
            } catch (ParseException | IllegalArgumentException | IOException e) {
                throw new IllegalArgumentException(where + " " + e.getMessage(), e);
            }
        }
        return clients;
    }

    private static RegisteredClient client(String clientId, Map<String, Object> entry, Path baseDir)
            throws ParseException, IOException {
        String method = JSONObjectUtils.getString(entry, "token_endpoint_auth_method");
        if (method != null && !method.equals("private_key_jwt")) {
            throw new IllegalArgumentException("has token_endpoint_auth_method " + method
                    + ": this server only knows private_key_jwt");
        }
        String scope = JSONObjectUtils.getString(entry, "scope");
        List<SmartScope> scopes = SmartScope.parseAll(scope);
        if (scopes.isEmpty()) {
            throw new IllegalArgumentException("needs a scope with SMART system scopes, e.g. \"system/*.read\""
                    + (scope == null ? "" : "; got \"" + scope + "\""));
        }
        Map<String, Object> inline = JSONObjectUtils.getJSONObject(entry, "jwks");
        String uri = JSONObjectUtils.getString(entry, "jwks_uri");
        if ((inline == null) == (uri == null)) {
            throw new IllegalArgumentException("needs exactly one of jwks (the public keys) and jwks_uri");
        }
        if (uri != null && (uri.startsWith("https://") || uri.startsWith("http://"))) {
            JWKSource<SecurityContext> remote = JWKSourceBuilder.<SecurityContext>create(URI.create(uri).toURL()).build();
            return new RegisteredClient(clientId, remote, null, scopes);
        }
        JWKSet keys;
        if (inline != null) {
            keys = JWKSet.parse(inline);
        } else {
            Path path = uri.startsWith("file:") ? Path.of(URI.create(uri)) : baseDir.resolve(uri);
            keys = JWKSet.load(path.toFile());
        }
        check(keys);
        return new RegisteredClient(clientId, new ImmutableJWKSet<>(keys), keys, scopes);
    }

    /** Keys that could never verify an RS384 or ES384 assertion, or that leak a secret, are refused now. */
    private static void check(JWKSet keys) {
        if (keys.getKeys().isEmpty()) {
            throw new IllegalArgumentException("has no keys");
        }
        for (JWK key : keys.getKeys()) {
            String name = "key " + (key.getKeyID() == null ? "without kid" : "'" + key.getKeyID() + "'");
            if (key.getKeyID() == null) {
                throw new IllegalArgumentException("has a key without kid: assertions choose their key by kid");
            }
            if (key.isPrivate()) {
                throw new IllegalArgumentException("has " + name + " with its private part: register the public"
                        + " key only (keygen prints it); the private key stays with the client");
            }
            if (key instanceof RSAKey rsa && rsa.size() < 2048) {
                throw new IllegalArgumentException(name + " is a " + rsa.size() + "-bit RSA key: at least 2048 bits");
            }
            if (key instanceof ECKey ec && !Curve.P_384.equals(ec.getCurve())) {
                throw new IllegalArgumentException(name + " is on curve " + ec.getCurve() + ": ES384 needs P-384");
            }
            if (!(key instanceof RSAKey) && !(key instanceof ECKey)) {
                throw new IllegalArgumentException(name + " is a " + key.getKeyType() + " key: RSA (RS384) or EC"
                        + " P-384 (ES384) only");
            }
        }
    }

    /**
     * Adds a client to a clients file (made if missing), keeping the file valid: refuses a
     * client_id that is already there or an entry that would not load.
     */
    public static void register(Path file, Map<String, Object> entry) throws IOException {
        List<Object> entries;
        try {
            entries = Files.exists(file)
                    ? JSONArrayUtils.parse(Files.readString(file, StandardCharsets.UTF_8))
                    : JSONArrayUtils.newJSONArray();
        } catch (ParseException e) {
            throw new IOException("Clients file " + file + " is not a JSON array: " + e.getMessage(), e);
        }
        Object clientId = entry.get("client_id");
        for (Object existing : entries) {
            if (existing instanceof Map<?, ?> other && clientId.equals(other.get("client_id"))) {
                throw new IOException("Client '" + clientId + "' is already registered in " + file
                        + ": choose another client id, or remove the old entry first.");
            }
        }
        entries.add(entry);
        StringBuilder text = new StringBuilder("[\n");
        for (int i = 0; i < entries.size(); i++) {
            if (!(entries.get(i) instanceof Map<?, ?> item)) {
                throw new IOException("Clients file " + file + ": entry " + (i + 1) + " is not a JSON object.");
            }
            @SuppressWarnings("unchecked")
            String json = JSONObjectUtils.toJSONString((Map<String, ?>) item);
            text.append("  ").append(json).append(i + 1 < entries.size() ? ",\n" : "\n");
        }
        text.append("]\n");
        Path absolute = file.toAbsolutePath();
        try {
            parse(text.toString(), absolute.getParent());
        } catch (IllegalArgumentException e) {
            throw new IOException("The clients file would not load: " + e.getMessage(), e);
        }
        Files.createDirectories(absolute.getParent());
        Path temporary = Files.createTempFile(absolute.getParent(), ".clients-", ".tmp");
        try {
            Files.writeString(temporary, text, StandardCharsets.UTF_8);
            Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    private static FileTime modified(Path file) {
        try {
            return Files.getLastModifiedTime(file);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }
}
