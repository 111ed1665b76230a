package dev.bulkfhir.providers.auth;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.SecurityContext;

import java.util.List;

/**
 * One entry of the clients file.
 *
 * @param keys      where the client's public keys come from
 * @param localKeys the keys themselves when registered inline or as a file; null for a remote
 *                  {@code jwks_uri}, whose keys are fetched (and cached) as assertions need them
 * @param scopes    the most this client may be granted
 */
public record RegisteredClient(String clientId, JWKSource<SecurityContext> keys, JWKSet localKeys,
        List<SmartScope> scopes) {
}
