package dev.bulkfhir.providers.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.JWK;
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

import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks the server's own access tokens (RFC 9068 JWTs, {@code typ: at+jwt}): signed by one of the
 * server's keys, not expired, from the expected issuer and for the expected audience. The issuer
 * writes the same claims: {@code iss}, {@code aud}, {@code sub} = {@code client_id}, {@code scope},
 * {@code iat}, {@code exp}, {@code jti}.
 *
 * <p>A token that passed is remembered until it expires, so that a client sending the same token on
 * every request pays for one signature check, not one per request (an ES256 verification costs far
 * more than serving a small Binary; an HS256 one far less, but parsing and checking the claims stay).
 * This is safe because a hit needs the very same token text, whose signature over exactly that
 * text was checked with this verifier's own keys; the entry ends when the token's {@code exp} (plus
 * the clock skew) passes, and is checked again on every hit; and what a token may do is not decided
 * here but by the caller on every request (a removed or narrowed client is applied after this, see
 * {@code ClientRegistry.recheck}). Failures are not remembered. The cache is bounded
 * ({@link #REMEMBERED_TOKENS}, least recently used first out).
 */
public final class AccessTokenVerifier {

    public static final JOSEObjectType TYPE = new JOSEObjectType("at+jwt");
    public static final String CLIENT_ID = "client_id";
    public static final String SCOPE = "scope";
    /** Tolerance for the clocks of nodes that share the signing keys. */
    static final int CLOCK_SKEW_SECONDS = 10;
    /** About 1 KB each: some tens of clients with several live tokens each fit many times over. */
    static final int REMEMBERED_TOKENS = 10_000;

    /** A token that passed, and the instant (exp plus skew) after which it no longer does. */
    private record Verified(ClientAccess access, Instant validUntil) {
    }

    private final Cache<String, Verified> verified = Caffeine.newBuilder()
            .maximumSize(REMEMBERED_TOKENS)
            .expireAfter(new Expiry<String, Verified>() {
                @Override
                public long expireAfterCreate(String token, Verified entry, long now) {
                    return Duration.between(Instant.now(), entry.validUntil()).toNanos();
                }

                @Override
                public long expireAfterUpdate(String token, Verified entry, long now, long remaining) {
                    return expireAfterCreate(token, entry, now);
                }

                @Override
                public long expireAfterRead(String token, Verified entry, long now, long remaining) {
                    return remaining;
                }
            })
            .build();

    private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();

    /**
     * @param serverKeys the server's signing keys; a token's {@code kid} picks one (the public part of a
     *                   key pair, or a secret), and its {@code iss} and {@code aud} must name that key
     */
    public AccessTokenVerifier(SigningKeyRing serverKeys) {
        // HS256: the secrets of a shared ring (see SigningKeyRing); a key pair's tokens, from a file or
        // an earlier version, by RSA or EC. Each only with a key of its own type, found by kid.
        Set<JWSAlgorithm> algorithms = new HashSet<>(JWSAlgorithm.Family.RSA);
        algorithms.addAll(JWSAlgorithm.Family.EC);
        algorithms.add(JWSAlgorithm.HS256);
        processor.setJWSTypeVerifier(new DefaultJOSEObjectTypeVerifier<>(TYPE));
        JWKSource<SecurityContext> keys = (selector, context) -> {
            JWK key = serverKeys.find(selector.getMatcher().getKeyIDs() == null ? null
                    : selector.getMatcher().getKeyIDs().stream().findFirst().orElse(null));
            return key == null ? List.of() : selector.select(new JWKSet(key));
        };
        processor.setJWSKeySelector(new JWSVerificationKeySelector<>(algorithms, keys));
        processor.setJWTClaimsSetVerifier(null); // checked below, to say precisely what is wrong
    }

    /** The claims a token signed with key {@code kid} must carry. */
    private static DefaultJWTClaimsVerifier<SecurityContext> claimsVerifier(String kid) {
        String issuer = AccessTokenIssuer.issuer(kid);
        // Mutable sets: Nimbus asks them contains(null), which Set.of refuses.
        DefaultJWTClaimsVerifier<SecurityContext> verifier = new DefaultJWTClaimsVerifier<>(
                new HashSet<>(Set.of(issuer)), new JWTClaimsSet.Builder().issuer(issuer).build(),
                new HashSet<>(Set.of("sub", CLIENT_ID, SCOPE, "exp", "iat", "jti")), null);
        verifier.setMaxClockSkew(CLOCK_SKEW_SECONDS);
        return verifier;
    }

    /** The client and scopes of a valid token. */
    public ClientAccess verify(String token) throws InvalidTokenException {
        Verified known = verified.getIfPresent(token);
        if (known != null) {
            if (Instant.now().isBefore(known.validUntil())) {
                return known.access();
            }
            verified.invalidate(token); // the cache's own expiry is not exact to the millisecond
        }
        JWTClaimsSet claims;
        String kid;
        try {
            SignedJWT jwt = SignedJWT.parse(token);
            kid = jwt.getHeader().getKeyID();
            if (kid == null) {
                throw new InvalidTokenException("The access token was not issued by this server: it names no key.");
            }
            claims = processor.process(jwt, null);
        } catch (ParseException e) {
            throw new InvalidTokenException("The access token is not a JWT (" + e.getMessage() + ").");
        } catch (BadJOSEException | JOSEException e) {
            throw new InvalidTokenException("The access token was not issued by this server: " + e.getMessage() + ".");
        }
        if (claims.getExpirationTime() != null
                && !Instant.now().isBefore(validUntil(claims))) {
            throw new InvalidTokenException("The access token expired at " + claims.getExpirationTime().toInstant()
                    + ": get a new one from the token endpoint.");
        }
        try {
            claimsVerifier(kid).verify(claims, null);
            String clientId = claims.getStringClaim(CLIENT_ID);
            if (!clientId.equals(claims.getSubject())) {
                throw new InvalidTokenException("The access token's sub and client_id differ.");
            }
            ClientAccess access = ClientAccess.of(clientId, SmartScope.parseAll(claims.getStringClaim(SCOPE)));
            verified.put(token, new Verified(access, validUntil(claims)));
            return access;
        } catch (BadJWTException e) {
            throw new InvalidTokenException("The access token was rejected: " + e.getMessage() + ".");
        } catch (ParseException e) {
            throw new InvalidTokenException("The access token's claims are malformed: " + e.getMessage() + ".");
        }
    }

    private static Instant validUntil(JWTClaimsSet claims) {
        return claims.getExpirationTime().toInstant().plusSeconds(CLOCK_SKEW_SECONDS);
    }
}
