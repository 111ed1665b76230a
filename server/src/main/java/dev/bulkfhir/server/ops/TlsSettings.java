package dev.bulkfhir.server.ops;

import java.nio.file.Path;

/**
 * TLS for the standalone server: a PKCS12 key store, or a PEM key (PKCS#8) and certificate chain.
 *
 * @param keyStore         a PKCS12 file with the server's key and certificate chain, or null
 * @param keyStorePassword its password (also the key's)
 * @param key              a PEM PKCS#8 private key ({@code BEGIN PRIVATE KEY}), with {@code cert}; or null
 * @param cert             a PEM certificate chain, the server's certificate first
 * @param redirectPort     a plain HTTP port that answers every request with a 308 to HTTPS, or null
 */
public record TlsSettings(Path keyStore, String keyStorePassword, Path key, Path cert, Integer redirectPort) {

    public TlsSettings {
        if (keyStore != null && (key != null || cert != null)) {
            throw new IllegalArgumentException("Give a PKCS12 key store (--tls-keystore) or a PEM key and certificate"
                    + " (--tls-key, --tls-cert), not both.");
        }
        if (keyStore == null && (key == null || cert == null)) {
            throw new IllegalArgumentException("TLS needs --tls-keystore, or both --tls-key and --tls-cert.");
        }
    }
}
