package dev.bulkfhir.providers.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.KeyConverter;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.DefaultJOSEObjectTypeVerifier;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;

import java.security.Key;
import java.security.PublicKey;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks a SMART Backend Services client assertion (RFC 7523 {@code private_key_jwt}): signed
 * RS384 or ES384 by the key its {@code kid} names in the client's registered JWKS;
 * {@code iss} = {@code sub} = a registered client_id; {@code aud} = the token endpoint's URL;
 * {@code exp} not past and at most five minutes ahead; a non-blank {@code jti} not seen before.
 */
final class ClientAssertionVerifier {

    static final Set<JWSAlgorithm> ALGORITHMS = Set.of(JWSAlgorithm.RS384, JWSAlgorithm.ES384);
    static final Duration MAX_LIFETIME = Duration.ofMinutes(5);
    /** Tolerance for the client's clock. */
    static final int CLOCK_SKEW_SECONDS = 30;

    private final ClientRegistry registry;
    private final UsedAssertions used;
    /**
     * A processor per key source of a registered client, which keeps the client's keys converted to Java
     * keys (a conversion per request cost as much as the RS384 check itself). Weak keys, compared by
     * identity: the registry makes a new source whenever the clients file changes, so a replaced key,
     * even under the same kid, is converted afresh and the old one is forgotten.
     */
    private final Cache<JWKSource<SecurityContext>, DefaultJWTProcessor<SecurityContext>> processors =
            Caffeine.newBuilder().weakKeys().build();

    ClientAssertionVerifier(ClientRegistry registry, UsedAssertions used) {
        this.registry = registry;
        this.used = used;
    }

    private static DefaultJWTProcessor<SecurityContext> processor(JWKSource<SecurityContext> keys) {
        DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
        processor.setJWSTypeVerifier(new DefaultJOSEObjectTypeVerifier<>(JOSEObjectType.JWT, null));
        processor.setJWSKeySelector(new ConvertedOnce(keys));
        processor.setJWTClaimsSetVerifier(null); // checked in verify, to say precisely what is wrong
        return processor;
    }

    /**
     * Nimbus's selection of the keys that may have signed (by kid, type, use and algorithm, from the
     * client's source as it is now), each JWK converted to a Java public key only the first time.
     * Conversions are kept per JWK instance: a remote JWKS fetched anew brings new instances.
     */
    private static final class ConvertedOnce extends JWSVerificationKeySelector<SecurityContext> {
        private final Cache<JWK, Key> converted = Caffeine.newBuilder().weakKeys().build();

        ConvertedOnce(JWKSource<SecurityContext> keys) {
            super(ALGORITHMS, keys);
        }

        @Override
        public List<Key> selectJWSKeys(JWSHeader header, SecurityContext context) throws KeySourceException {
            JWKMatcher matcher = isAllowed(header.getAlgorithm()) ? createJWKMatcher(header) : null;
            if (matcher == null) {
                return List.of();
            }
            List<Key> keys = new ArrayList<>();
            for (JWK jwk : getJWKSource().get(new JWKSelector(matcher), context)) {
                Key key = converted.get(jwk, ConvertedOnce::publicKey);
                if (key != null) {
                    keys.add(key);
                }
            }
            return keys;
        }

        private static Key publicKey(JWK jwk) {
            return KeyConverter.toJavaKeys(List.of(jwk)).stream().filter(PublicKey.class::isInstance)
                    .findFirst().orElse(null);
        }
    }

    /**
     * @param tokenUrl the token endpoint's configured URL, which {@code aud} must name (never one built
     *                 from the request, whose Host header the client chooses)
     */
    RegisteredClient verify(String assertion, String tokenUrl) throws TokenError {
        SignedJWT jwt;
        JWTClaimsSet unverified;
        try {
            jwt = SignedJWT.parse(assertion);
            unverified = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw TokenError.invalidClient("client_assertion is not a signed JWT: " + e.getMessage());
        }
        JWSAlgorithm algorithm = jwt.getHeader().getAlgorithm();
        if (!ALGORITHMS.contains(algorithm)) {
            throw TokenError.invalidClient("client_assertion is signed with " + algorithm
                    + "; this server accepts RS384 and ES384.");
        }
        String kid = jwt.getHeader().getKeyID();
        if (kid == null || kid.isBlank()) {
            throw TokenError.invalidClient("client_assertion has no kid in its header: it must name the key"
                    + " (from the client's registered JWKS) that signed it.");
        }
        String clientId = unverified.getIssuer();
        if (clientId == null || !clientId.equals(unverified.getSubject())) {
            throw TokenError.invalidClient("client_assertion must have iss and sub both equal to the client_id.");
        }
        RegisteredClient client = registry.find(clientId);
        if (client == null) {
            throw TokenError.invalidClient("Client '" + clientId + "' is not registered with this server.");
        }
        if (client.localKeys() != null && client.localKeys().getKeyByKeyId(kid) == null) {
            throw TokenError.invalidClient("Client '" + clientId + "' has no key with kid '" + kid
                    + "' in its registered JWKS.");
        }

        JWTClaimsSet claims;
        try {
            claims = processors.get(client.keys(), ClientAssertionVerifier::processor).process(jwt, null);
        } catch (BadJOSEException | JOSEException e) {
            throw TokenError.invalidClient("client_assertion of client '" + clientId + "' was rejected: "
                    + e.getMessage() + " (kid '" + kid + "').");
        }

        Instant now = Instant.now();
        Instant expires = claims.getExpirationTime() == null ? null : claims.getExpirationTime().toInstant();
        if (expires == null) {
            throw TokenError.invalidClient("client_assertion has no exp.");
        }
        if (expires.plusSeconds(CLOCK_SKEW_SECONDS).isBefore(now)) {
            throw TokenError.invalidClient("client_assertion expired at " + expires + " (now " + now + ").");
        }
        if (expires.isAfter(now.plus(MAX_LIFETIME).plusSeconds(CLOCK_SKEW_SECONDS))) {
            throw TokenError.invalidClient("client_assertion's exp " + expires + " is more than 5 minutes ahead.");
        }
        if (claims.getAudience() == null || !claims.getAudience().contains(tokenUrl)) {
            throw TokenError.invalidClient("client_assertion's aud is " + claims.getAudience()
                    + "; it must be this token endpoint's URL, " + tokenUrl + ".");
        }
        // Mutable sets: Nimbus asks them contains(null), which Set.of refuses.
        DefaultJWTClaimsVerifier<SecurityContext> rest = new DefaultJWTClaimsVerifier<>(null,
                new JWTClaimsSet.Builder().issuer(clientId).subject(clientId).build(),
                new HashSet<>(Set.of("iss", "sub", "aud", "exp", "jti")), null);
        rest.setMaxClockSkew(CLOCK_SKEW_SECONDS);
        try {
            rest.verify(claims, null);
        } catch (BadJWTException e) {
            throw TokenError.invalidClient("client_assertion was rejected: " + e.getMessage() + ".");
        }

        if (claims.getJWTID() == null || claims.getJWTID().isBlank()) {
            // Nimbus counts "" as present; but an empty jti is one every assertion could share.
            throw TokenError.invalidClient("client_assertion has an empty jti: give every assertion a new,"
                    + " unique jti (e.g. a random UUID).");
        }
        if (!used.firstUse(clientId, claims.getJWTID(), expires.plusSeconds(CLOCK_SKEW_SECONDS))) {
            throw TokenError.invalidClient("client_assertion with jti '" + claims.getJWTID()
                    + "' was used before: make a new assertion, with a new jti, for every token request.");
        }
        return client;
    }
}
