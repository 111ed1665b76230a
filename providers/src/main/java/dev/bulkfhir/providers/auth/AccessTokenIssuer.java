package dev.bulkfhir.providers.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.UUID;

/**
 * Signs access tokens with the server's current key (RFC 9068 JWTs; {@link AccessTokenVerifier} checks
 * them). The keys are a {@link SigningKeyRing}: one kept in a file, or keys shared by all nodes through
 * the database, so tokens outlive a restart and every node accepts every node's tokens.
 */
public final class AccessTokenIssuer {

    private static final Logger log = LoggerFactory.getLogger(AccessTokenIssuer.class);

    private final SigningKeyRing keys;
    private final Duration lifetime;
    /** The signer of the key that signed last: made once per key, not per token (it converts the JWK). */
    private volatile Signing signing;

    private record Signing(JWK key, JWSSigner signer, JWSHeader header) {
    }

    public AccessTokenIssuer(SigningKeyRing keys, Duration lifetime) {
        this.keys = keys;
        this.lifetime = lifetime;
    }

    /** With one key, for ever. */
    public AccessTokenIssuer(JWK key, Duration lifetime) {
        this(SigningKeyRing.fixed(key), lifetime);
    }

    /**
     * The {@code iss} and {@code aud} of the tokens a key signs. Not the URL the server was reached at:
     * a token stays valid whatever name or port the client uses, across restarts, and on every node.
     */
    static String issuer(String kid) {
        return "urn:bulk-fhir:" + kid;
    }

    /** The key in {@code file}, or a new ES256 key written there if there is none yet. */
    public static AccessTokenIssuer fromKeyFile(Path file, Duration lifetime) throws IOException, JOSEException {
        if (!Files.exists(file)) {
            try {
                SigningKeys.writePrivate(file, SigningKeys.generate(JWSAlgorithm.ES256), false);
                log.info("Made the server's token signing key: {}", file.toAbsolutePath());
            } catch (FileAlreadyExistsException e) {
                // Another node made it first: use theirs.
            }
        }
        JWK key = SigningKeys.readPrivate(file);
        if (key.getKeyID() == null && key instanceof RSAKey rsa) {
            key = new RSAKey.Builder(rsa).keyIDFromThumbprint().build();
        } else if (key.getKeyID() == null && key instanceof ECKey ec) {
            key = new ECKey.Builder(ec).keyIDFromThumbprint().build();
        }
        return new AccessTokenIssuer(key, lifetime);
    }

    public String issue(String clientId, List<SmartScope> scopes) throws JOSEException {
        Signing signing = signing();
        String issuer = issuer(signing.key().getKeyID());
        Instant now = Instant.now();
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(issuer)
                .audience(issuer)
                .subject(clientId)
                .claim(AccessTokenVerifier.CLIENT_ID, clientId)
                .claim(AccessTokenVerifier.SCOPE, SmartScope.join(scopes))
                .issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(lifetime)))
                .jwtID(UUID.randomUUID().toString())
                .build();
        SignedJWT token = new SignedJWT(signing.header(), claims);
        token.sign(signing.signer());
        return token.serialize();
    }

    private Signing signing() throws JOSEException {
        JWK key = keys.current();
        Signing last = signing;
        if (last == null || last.key() != key) {
            last = new Signing(key, SigningKeys.signer(key), new JWSHeader.Builder(SigningKeys.algorithm(key))
                    .type(AccessTokenVerifier.TYPE).keyID(key.getKeyID()).build());
            signing = last;
        }
        return last;
    }

    /** What checks this issuer's tokens. */
    public AccessTokenVerifier verifier() {
        return new AccessTokenVerifier(keys);
    }

    public Duration lifetime() {
        return lifetime;
    }
}
