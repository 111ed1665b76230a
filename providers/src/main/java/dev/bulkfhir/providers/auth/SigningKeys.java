package dev.bulkfhir.providers.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.OctetSequenceKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.UUID;

/**
 * Making, storing and using the private keys that sign tokens (the server's) and client
 * assertions (a client's). All the cryptography is Nimbus JOSE+JWT's.
 */
public final class SigningKeys {

    private SigningKeys() {
    }

    /**
     * A new key pair for {@code algorithm} (RS* or ES*), with a thumbprint as kid; or, for HS256, a
     * 256-bit secret with a random kid (a secret's thumbprint is a hash of the secret: not for headers).
     */
    public static JWK generate(JWSAlgorithm algorithm) throws JOSEException {
        if (JWSAlgorithm.HS256.equals(algorithm)) {
            return new OctetSequenceKeyGenerator(256).keyUse(KeyUse.SIGNATURE).algorithm(algorithm)
                    .keyID(UUID.randomUUID().toString()).generate();
        }
        if (JWSAlgorithm.Family.RSA.contains(algorithm)) {
            return new RSAKeyGenerator(2048).keyUse(KeyUse.SIGNATURE).algorithm(algorithm).keyIDFromThumbprint(true)
                    .generate();
        }
        if (JWSAlgorithm.Family.EC.contains(algorithm)) {
            return new ECKeyGenerator(Curve.forJWSAlgorithm(algorithm).iterator().next()).keyUse(KeyUse.SIGNATURE)
                    .algorithm(algorithm).keyIDFromThumbprint(true).generate();
        }
        throw new IllegalArgumentException("No key pairs for " + algorithm + ": use RS384 or ES384");
    }

    /**
     * The algorithm a key signs with: its {@code alg} if it names one, else RS384 for RSA keys and
     * the ES algorithm of an EC key's curve, HS256 for a secret.
     */
    public static JWSAlgorithm algorithm(JWK key) {
        if (key.getAlgorithm() != null) {
            return JWSAlgorithm.parse(key.getAlgorithm().getName());
        }
        if (key instanceof RSAKey) {
            return JWSAlgorithm.RS384;
        }
        if (key instanceof ECKey ec) {
            return Curve.P_256.equals(ec.getCurve()) ? JWSAlgorithm.ES256
                    : Curve.P_521.equals(ec.getCurve()) ? JWSAlgorithm.ES512 : JWSAlgorithm.ES384;
        }
        if (key instanceof OctetSequenceKey) {
            return JWSAlgorithm.HS256;
        }
        throw new IllegalArgumentException("Key " + key.getKeyID() + " is neither RSA, EC nor a secret");
    }

    public static JWSSigner signer(JWK key) throws JOSEException {
        if (key instanceof RSAKey rsa) {
            return new RSASSASigner(rsa);
        }
        if (key instanceof ECKey ec) {
            return new ECDSASigner(ec);
        }
        if (key instanceof OctetSequenceKey secret) {
            return new MACSigner(secret);
        }
        throw new JOSEException("Key " + key.getKeyID() + " is neither RSA, EC nor a secret");
    }

    /**
     * A SMART Backend Services client assertion: signed with the client's key (RS384 or ES384 by
     * its type), {@code iss} = {@code sub} = the client id, {@code aud} = the token endpoint, four
     * minutes to live, a fresh {@code jti}.
     */
    public static String clientAssertion(JWK key, String clientId, String tokenUrl) throws JOSEException {
        Instant now = Instant.now();
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(clientId)
                .subject(clientId)
                .audience(tokenUrl)
                .issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(Duration.ofMinutes(4))))
                .jwtID(UUID.randomUUID().toString())
                .build();
        SignedJWT assertion = new SignedJWT(new JWSHeader.Builder(algorithm(key)).type(JOSEObjectType.JWT)
                .keyID(key.getKeyID()).build(), claims);
        assertion.sign(signer(key));
        return assertion.serialize();
    }

    /** A private JWK from a file holding a JWK, or a JWK Set whose first key is private. */
    public static JWK readPrivate(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        JWK key;
        try {
            key = text.contains("\"keys\"") ? JWKSet.parse(text).getKeys().stream().filter(JWK::isPrivate)
                    .findFirst().orElseThrow(() -> new ParseException("no private key in the set", 0)) : JWK.parse(text);
        } catch (ParseException e) {
            throw new IOException(file + " is not a JWK: " + e.getMessage(), e);
        }
        if (!key.isPrivate() || !(key instanceof RSAKey || key instanceof ECKey)) {
            throw new IOException(file + " must hold a private RSA or EC key");
        }
        return key;
    }

    /**
     * Writes a private key readable by its owner only, whole or not at all.
     *
     * @throws FileAlreadyExistsException if the file exists and {@code replace} is false
     */
    public static void writePrivate(Path file, JWK key, boolean replace) throws IOException {
        Path absolute = file.toAbsolutePath();
        Files.createDirectories(absolute.getParent());
        Path temporary = Files.createTempFile(absolute.getParent(), ".key-", ".tmp");
        try {
            try {
                Files.setPosixFilePermissions(temporary, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException e) {
                // Not a POSIX file system: the directory's own protection applies.
            }
            Files.writeString(temporary, key.toJSONString() + "\n", StandardCharsets.UTF_8);
            if (replace) {
                Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } else {
                // A hard link fails if the name is taken: no race with another writer.
                try {
                    Files.createLink(absolute, temporary);
                } catch (UnsupportedOperationException | AtomicMoveNotSupportedException e) {
                    Files.move(temporary, absolute);
                }
            }
        } finally {
            Files.deleteIfExists(temporary);
        }
    }
}
