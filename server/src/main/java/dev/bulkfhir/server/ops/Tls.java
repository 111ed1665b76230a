package dev.bulkfhir.server.ops;

import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.function.IntSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** HTTPS connectors for the standalone server: HTTP/2 and HTTP/1.1 by ALPN, and the optional HTTP→HTTPS redirect. */
public final class Tls {

    /** The Jetty connector name of the redirect port. */
    public static final String REDIRECT_CONNECTOR = "redirect";
    private static final Pattern PEM_KEY = Pattern.compile(
            "-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
    private static final String OPENSSL_HINT = " Convert it to PKCS#8 with:"
            + " openssl pkcs8 -topk8 -nocrypt -in KEY.pem -out key-pkcs8.pem";

    private Tls() {
    }

    /** An HTTPS connector offering HTTP/2 (h2) and HTTP/1.1 by ALPN, with the key and certificate of {@code settings}. */
    public static ServerConnector connector(Server jetty, TlsSettings settings) {
        SslContextFactory.Server ssl = new SslContextFactory.Server();
        String password = settings.keyStorePassword() == null ? "" : settings.keyStorePassword();
        ssl.setKeyStore(keyStore(settings, password.toCharArray()));
        ssl.setKeyStorePassword(password);
        HttpConfiguration https = new HttpConfiguration();
        https.setSendServerVersion(false);
        SecureRequestCustomizer secure = new SecureRequestCustomizer();
        secure.setSniHostCheck(false); // clients may use an address the certificate does not name, as with plain HTTP
        https.addCustomizer(secure);
        HttpConnectionFactory http1 = new HttpConnectionFactory(https);
        HTTP2ServerConnectionFactory http2 = new HTTP2ServerConnectionFactory(https);
        ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory();
        alpn.setDefaultProtocol(http1.getProtocol());
        return new ServerConnector(jetty, new SslConnectionFactory(ssl, alpn.getProtocol()), alpn, http2, http1);
    }

    /** Adds the plain HTTP port whose every answer is a 308 to the same path on {@code httpsPort}. */
    public static void addRedirect(Server jetty, String host, int port, IntSupplier httpsPort) {
        ServerConnector redirect = new ServerConnector(jetty);
        redirect.setName(REDIRECT_CONNECTOR);
        redirect.setHost(host);
        redirect.setPort(port);
        jetty.addConnector(redirect);
        jetty.setHandler(new Redirect(jetty.getHandler(), httpsPort));
    }

    /** Requests on the redirect connector get a 308 (which keeps method and body) to HTTPS; others pass. */
    private static final class Redirect extends Handler.Wrapper {

        private final IntSupplier httpsPort;

        Redirect(Handler handler, IntSupplier httpsPort) {
            super(handler);
            this.httpsPort = httpsPort;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            if (!REDIRECT_CONNECTOR.equals(request.getConnectionMetaData().getConnector().getName())) {
                return super.handle(request, response, callback);
            }
            HttpURI uri = request.getHttpURI();
            int port = httpsPort.getAsInt();
            String location = HttpURI.build(uri).scheme("https").port(port == 443 ? -1 : port).asString();
            response.setStatus(308);
            response.getHeaders().put(HttpHeader.LOCATION, location);
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0L);
            callback.succeeded();
            return true;
        }
    }

    /** Reads the key and certificates now, so that a bad file is reported before anything starts. */
    public static void check(TlsSettings settings) {
        keyStore(settings, settings.keyStorePassword() == null ? new char[0] : settings.keyStorePassword().toCharArray());
    }

    static KeyStore keyStore(TlsSettings settings, char[] password) {
        try {
            if (settings.keyStore() != null) {
                return KeyStore.getInstance(settings.keyStore().toFile(), password);
            }
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            Certificate[] chain = certificates(settings.cert());
            store.setKeyEntry("server", privateKey(settings.key()), password, chain);
            return store;
        } catch (IOException | GeneralSecurityException e) {
            Path file = settings.keyStore() != null ? settings.keyStore() : settings.key();
            throw new IllegalArgumentException("Cannot read the TLS key from " + file + ": " + e.getMessage(), e);
        }
    }

    private static Certificate[] certificates(Path file) throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(file)) {
            Collection<? extends Certificate> chain = java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertificates(in);
            if (chain.isEmpty()) {
                throw new IllegalArgumentException(file + " holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
            }
            return chain.toArray(Certificate[]::new);
        }
    }

    /** A PEM PKCS#8 key, RSA or EC; any other form gets the openssl command that converts it. */
    static PrivateKey privateKey(Path file) throws IOException {
        String text = Files.readString(file);
        Matcher pem = PEM_KEY.matcher(text);
        if (!pem.find()) {
            String form = text.contains("BEGIN RSA PRIVATE KEY") ? "a PKCS#1 RSA key"
                    : text.contains("BEGIN EC PRIVATE KEY") ? "a SEC1 EC key"
                    : text.contains("BEGIN ENCRYPTED PRIVATE KEY") ? "an encrypted PKCS#8 key"
                    : "not a PEM private key";
            throw new IllegalArgumentException("--tls-key " + file + " is " + form + "; it must be an unencrypted"
                    + " PKCS#8 key (-----BEGIN PRIVATE KEY-----)." + OPENSSL_HINT);
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getMimeDecoder().decode(pem.group(1).trim()));
        for (String algorithm : List.of("RSA", "EC", "Ed25519")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException("--tls-key " + file + " is neither an RSA nor an EC PKCS#8 key.");
    }
}
