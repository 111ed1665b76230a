package dev.bulkfhir.providers.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.DefaultJOSEObjectTypeVerifier;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;

import java.text.ParseException;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;

/**
 * Checks the server's own access tokens (RFC 9068 JWTs, {@code typ: at+jwt}): signed by one of the
 * server's keys, not expired, from the expected issuer and for the expected audience. The issuer
 * writes the same claims: {@code iss}, {@code aud}, {@code sub} = {@code client_id}, {@code scope},
 * {@code iat}, {@code exp}, {@code jti}.
 */
public final class AccessTokenVerifier {

    public static final JOSEObjectType TYPE = new JOSEObjectType("at+jwt");
    public static final String CLIENT_ID = "client_id";
    public static final String SCOPE = "scope";
    /** Tolerance for the clocks of nodes that share the signing key. */
    static final int CLOCK_SKEW_SECONDS = 10;

    private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
    private final DefaultJWTClaimsVerifier<SecurityContext> claimsVerifier;

    /**
     * @param serverKeys the server's signing key(s); only the public parts are used
     */
    public AccessTokenVerifier(JWKSet serverKeys, String issuer, String audience) {
        Set<JWSAlgorithm> asymmetric = new HashSet<>(JWSAlgorithm.Family.RSA);
        asymmetric.addAll(JWSAlgorithm.Family.EC);
        processor.setJWSTypeVerifier(new DefaultJOSEObjectTypeVerifier<>(TYPE));
        processor.setJWSKeySelector(new JWSVerificationKeySelector<>(asymmetric,
                new ImmutableJWKSet<>(serverKeys.toPublicJWKSet())));
        processor.setJWTClaimsSetVerifier(null); // checked below, to say precisely what is wrong
        // Mutable sets: Nimbus asks them contains(null), which Set.of refuses.
        claimsVerifier = new DefaultJWTClaimsVerifier<>(new HashSet<>(Set.of(audience)),
                new JWTClaimsSet.Builder().issuer(issuer).build(),
                new HashSet<>(Set.of("sub", CLIENT_ID, SCOPE, "exp", "iat", "jti")), null);
        claimsVerifier.setMaxClockSkew(CLOCK_SKEW_SECONDS);
    }

    /** The client and scopes of a valid token. */
    public ClientAccess verify(String token) throws InvalidTokenException {
        JWTClaimsSet claims;
        try {
            claims = processor.process(token, null);
        } catch (ParseException e) {
            throw new InvalidTokenException("The access token is not a JWT (" + e.getMessage() + ").");
        } catch (BadJOSEException | JOSEException e) {
            throw new InvalidTokenException("The access token was not issued by this server: " + e.getMessage() + ".");
        }
        if (claims.getExpirationTime() != null
                && claims.getExpirationTime().toInstant().plusSeconds(CLOCK_SKEW_SECONDS).isBefore(Instant.now())) {
            throw new InvalidTokenException("The access token expired at " + claims.getExpirationTime().toInstant()
                    + ": get a new one from the token endpoint.");
        }
        try {
            claimsVerifier.verify(claims, null);
            String clientId = claims.getStringClaim(CLIENT_ID);
            if (!clientId.equals(claims.getSubject())) {
                throw new InvalidTokenException("The access token's sub and client_id differ.");
            }
            return ClientAccess.of(clientId, SmartScope.parseAll(claims.getStringClaim(SCOPE)));
        } catch (BadJWTException e) {
            throw new InvalidTokenException("The access token was rejected: " + e.getMessage() + ".");
        } catch (ParseException e) {
            throw new InvalidTokenException("The access token's claims are malformed: " + e.getMessage() + ".");
        }
    }
}
