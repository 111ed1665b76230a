package dev.bulkfhir.server.storage;

import dev.bulkfhir.storage.files.S3Settings;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real S3 implementation for the tests: S3Proxy on its file-system backend, in a JVM of its own
 * (its Jetty and jclouds must not meet ours), with the class path the test-s3proxy module wrote.
 */
public final class S3Proxy implements AutoCloseable {

    public static final String ACCESS_KEY = "test-access-key";
    public static final String SECRET_KEY = "test-secret-key-0123456789";

    public final URI endpoint;
    public final S3Client client;
    private final Process process;

    private S3Proxy(URI endpoint, Process process) {
        this.endpoint = endpoint;
        this.process = process;
        this.client = S3Client.builder().endpointOverride(endpoint).region(Region.US_EAST_1).forcePathStyle(true)
                .httpClient(UrlConnectionHttpClient.create())
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build();
    }

    /** Starts S3Proxy on a free port, keeping its objects under {@code folder}, and waits until it listens. */
    public static S3Proxy start(Path folder) throws Exception {
        Path classpath = Path.of("..", "test-s3proxy", "target", "s3proxy.classpath");
        if (!Files.exists(classpath)) {
            throw new IllegalStateException("No " + classpath.toAbsolutePath().normalize()
                    + ": build with the reactor (mvn -pl server -am ...), which builds test-s3proxy first");
        }
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        Path data = Files.createDirectories(folder.resolve("objects"));
        Path properties = folder.resolve("s3proxy.properties");
        Files.writeString(properties, String.join("\n",
                "s3proxy.endpoint=http://127.0.0.1:" + port,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + ACCESS_KEY,
                "s3proxy.credential=" + SECRET_KEY,
                "jclouds.provider=filesystem",
                "jclouds.identity=unused",
                "jclouds.credential=unused",
                "jclouds.filesystem.basedir=" + data.toAbsolutePath(),
                ""));
        Path logging = folder.resolve("s3proxy-logback.xml");
        Files.writeString(logging, "<configuration><appender name=\"out\" class=\"ch.qos.logback.core.ConsoleAppender\">"
                + "<encoder><pattern>%d %level %logger - %msg%n</pattern></encoder></appender>"
                + "<root level=\"WARN\"><appender-ref ref=\"out\"/></root></configuration>");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "-Xmx256m", "-cp", Files.readString(classpath).trim(),
                "-Dlogback.configurationFile=" + logging.toAbsolutePath(), "org.gaul.s3proxy.Main", "--properties", properties.toAbsolutePath().toString())
                .redirectErrorStream(true)
                .redirectOutput(folder.resolve("s3proxy.log").toFile())
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120); // a busy machine starts JVMs slowly
        while (true) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
                break;
            } catch (IOException notYet) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    process.destroyForcibly();
                    throw new IllegalStateException("S3Proxy did not start: " + Files.readString(folder.resolve("s3proxy.log")));
                }
                Thread.sleep(100);
            }
        }
        return new S3Proxy(URI.create("http://127.0.0.1:" + port), process);
    }

    /** A new, empty bucket. */
    public String bucket(String name) {
        client.createBucket(request -> request.bucket(name));
        return name;
    }

    /** Settings for the server: the bucket under a prefix, downloads streamed or redirected. */
    public S3Settings settings(String bucket, boolean redirect) {
        return new S3Settings(bucket, "bulk/", endpoint, "us-east-1", ACCESS_KEY, SECRET_KEY, redirect,
                Duration.ofMinutes(5));
    }

    /** The keys in a bucket under a prefix, as the store itself lists them. */
    public List<String> keys(String bucket, String prefix) {
        return client.listObjectsV2Paginator(request -> request.bucket(bucket).prefix(prefix)).contents().stream()
                .map(S3Object::key).toList();
    }

    @Override
    public void close() throws Exception {
        client.close();
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
