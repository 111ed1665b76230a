package dev.bulkfhir.server.ops;

import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.util.Base64;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTPS with a self-signed certificate the test makes (keytool): the PKCS12 and the PEM mode, HTTP/2
 * by ALPN with the JDK client and curl, and the HTTP→HTTPS redirect.
 */
class TlsTest {

    private static final String PASSWORD = "test-secret";

    @TempDir
    static Path keys;
    static Path keyStore;
    static Path keyPem;
    static Path certPem;

    @BeforeAll
    static void makeCertificate() throws Exception {
        keyStore = keys.resolve("server.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-storetype", "PKCS12",
                "-keystore", keyStore.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD)
                .redirectErrorStream(true).start();
        String output = new String(keytool.getInputStream().readAllBytes());
        assertEquals(0, keytool.waitFor(), output);
        // The same key and certificate as PEM files, as openssl would write them.
        KeyStore store = KeyStore.getInstance(keyStore.toFile(), PASSWORD.toCharArray());
        PrivateKey key = (PrivateKey) store.getKey("server", PASSWORD.toCharArray());
        keyPem = keys.resolve("key.pem");
        certPem = keys.resolve("cert.pem");
        Files.writeString(keyPem, pem("PRIVATE KEY", key.getEncoded()));
        Files.writeString(certPem, pem("CERTIFICATE", store.getCertificate("server").getEncoded()));
    }

    @Test
    void pkcs12WithHttp2FromTheJdkClient(@TempDir Path dir) throws Exception {
        TlsSettings tls = new TlsSettings(keyStore, PASSWORD, null, null, null);
        try (StandaloneServer server = new StandaloneServer(ServerSettings.builder(dir)
                .ops(OpsSettings.defaults().withTls(tls)).build()).start()) {
            assertTrue(server.listeningUrl().startsWith("https://127.0.0.1:"), server.listeningUrl());
            HttpClient client = HttpClient.newBuilder().sslContext(trusting()).version(HttpClient.Version.HTTP_2).build();
            HttpResponse<String> metadata = client.send(HttpRequest.newBuilder(
                    URI.create("https://localhost:" + server.port() + "/fhir/metadata")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metadata.statusCode());
            assertEquals(HttpClient.Version.HTTP_2, metadata.version());
            assertTrue(metadata.body().contains("CapabilityStatement"));
            HttpResponse<String> metrics = client.send(HttpRequest.newBuilder(
                    URI.create("https://localhost:" + server.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(PrometheusText.parse(metrics.body()).keySet().stream().anyMatch(key ->
                    key.startsWith("http_server_requests_seconds_count{method=\"GET\",route=\"/metadata\"")));
        }
    }

    @Test
    void pemWithCurlAndTheRedirect(@TempDir Path dir) throws Exception {
        TlsSettings tls = new TlsSettings(null, null, keyPem, certPem, 0);
        try (StandaloneServer server = new StandaloneServer(ServerSettings.builder(dir)
                .ops(OpsSettings.defaults().withTls(tls)).build()).start()) {
            String url = "https://localhost:" + server.port() + "/fhir/metadata";
            if (curlPresent()) {
                Process curl = new ProcessBuilder("curl", "-sS", "--http2", "--cacert", certPem.toString(), "-o",
                        "/dev/null", "-w", "%{http_code} %{http_version}", url).redirectErrorStream(true).start();
                String answer = new String(curl.getInputStream().readAllBytes()).trim();
                assertTrue(curl.waitFor(60, TimeUnit.SECONDS));
                assertEquals("200 2", answer);
            }
            HttpClient plain = HttpClient.newHttpClient();
            HttpResponse<String> redirect = plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + server.redirectPort() + "/fhir/Patient?name=x")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(308, redirect.statusCode());
            assertEquals("https://127.0.0.1:" + server.port() + "/fhir/Patient?name=x",
                    redirect.headers().firstValue("Location").orElseThrow());
        }
    }

    @Test
    void otherKeyFormsGetTheOpensslCommand(@TempDir Path dir) throws Exception {
        Path pkcs1 = dir.resolve("rsa.pem");
        Files.writeString(pkcs1, "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n");
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Tls.keyStore(
                new TlsSettings(null, null, pkcs1, certPem, null), new char[0]));
        assertTrue(refused.getMessage().contains("PKCS#1") && refused.getMessage().contains("openssl pkcs8 -topk8"),
                refused.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TlsSettings(keyStore, PASSWORD, keyPem, certPem, null));
        IllegalArgumentException badPassword = assertThrows(IllegalArgumentException.class, () -> Tls.keyStore(
                new TlsSettings(keyStore, "wrong", null, null, null), "wrong".toCharArray()));
        assertTrue(badPassword.getMessage().contains(keyStore.toString()), badPassword.getMessage());
    }

    private static SSLContext trusting() throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("server", KeyStore.getInstance(keyStore.toFile(), PASSWORD.toCharArray())
                .getCertificate("server"));
        TrustManagerFactory managers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        managers.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, managers.getTrustManagers(), null);
        return context;
    }

    private static boolean curlPresent() {
        try {
            return new ProcessBuilder("curl", "--version").start().waitFor() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
