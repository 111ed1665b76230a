package dev.bulkfhir.server.bench;

import dev.bulkfhir.server.ServerProcess;
import dev.bulkfhir.server.storage.S3Proxy;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Download throughput of one large stored Binary (the same download path as export files), from a
 * server whose file store is a directory, S3 streamed through the server, and S3 with redirects to
 * presigned URLs (followed by the client, without its token). S3 is S3Proxy on this machine, so the
 * figures compare the server's paths, not a cloud store's bandwidth.
 *
 * <p>Usage: {@code S3DownloadBench JAR WORK_DIR [MB=64] [DOWNLOADS=16] [CLIENTS=4]}; run from the
 * {@code server} folder (S3Proxy's class path is in {@code ../test-s3proxy/target}).
 */
public final class S3DownloadBench {

    private static final HttpClient HTTP = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();

    public static void main(String[] args) throws Exception {
        String jar = args[0];
        Path work = Files.createDirectories(Path.of(args[1]));
        int mb = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int downloads = args.length > 3 ? Integer.parseInt(args[3]) : 16;
        int clients = args.length > 4 ? Integer.parseInt(args[4]) : 4;
        byte[] content = new byte[mb * 1024 * 1024];
        new Random(1).nextBytes(content);

        List<String> figures = new ArrayList<>();
        try (S3Proxy s3 = S3Proxy.start(Files.createDirectories(work.resolve("s3")))) {
            String bucket = s3.bucket("bench");
            List<String> s3Flags = List.of("--storage", "s3://" + bucket + "/bench", "--s3-endpoint",
                    s3.endpoint.toString(), "--s3-access-key", S3Proxy.ACCESS_KEY, "--s3-secret-key", S3Proxy.SECRET_KEY);
            figures.add(measure("directory", jar, work.resolve("directory"), List.of(), content, downloads, clients));
            List<String> stream = new ArrayList<>(s3Flags);
            stream.addAll(List.of("--s3-downloads", "stream"));
            figures.add(measure("s3 stream", jar, work.resolve("stream"), stream, content, downloads, clients));
            List<String> redirect = new ArrayList<>(s3Flags);
            redirect.addAll(List.of("--s3-downloads", "redirect"));
            figures.add(measure("s3 redirect", jar, work.resolve("redirect"), redirect, content, downloads, clients));
        }
        System.out.println("s3-download: " + mb + " MB x " + downloads + ", " + clients + " clients: "
                + String.join(", ", figures));
    }

    private static String measure(String mode, String jar, Path dataDir, List<String> flags, byte[] content,
            int downloads, int clients) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-jar", jar, "--port", "0", "--auth", "off", "--data-dir", dataDir.toString()));
        command.addAll(flags);
        ServerProcess server = ServerProcess.start(command, Path.of(dataDir + ".log"));
        try {
            HttpResponse<String> created = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/Binary"))
                    .header("Content-Type", "application/octet-stream")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(content)).build(), HttpResponse.BodyHandlers.ofString());
            if (created.statusCode() != 201) throw new AssertionError("create: " + created.statusCode() + " " + created.body());
            URI url = URI.create(created.headers().firstValue("Location").orElseThrow().replaceAll("/_history/.*", ""));
            download(url, content.length); // warm-up
            AtomicLong bytes = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            long start = System.nanoTime();
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < downloads; i++) {
                done.add(pool.submit(() -> bytes.addAndGet(download(url, content.length))));
            }
            for (Future<?> future : done) future.get();
            double seconds = (System.nanoTime() - start) / 1e9;
            pool.shutdown();
            String figure = String.format("%s %.0f MB/s", mode, bytes.get() / 1048576.0 / seconds);
            System.out.println(figure + " (" + downloads + " downloads in " + String.format("%.1f", seconds) + " s)");
            return figure;
        } finally {
            server.process().destroy();
            server.process().waitFor();
        }
    }

    /** One download, following a redirect without the (here absent) token; returns the bytes read. */
    private static long download(URI url, long expected) throws Exception {
        HttpResponse<InputStream> response = HTTP.send(HttpRequest.newBuilder(url).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        if (response.statusCode() == 307) {
            response.body().close();
            response = HTTP.send(HttpRequest.newBuilder(URI.create(response.headers().firstValue("Location")
                    .orElseThrow())).build(), HttpResponse.BodyHandlers.ofInputStream());
        }
        if (response.statusCode() != 200) throw new AssertionError("download: " + response.statusCode());
        long read;
        try (InputStream in = response.body()) {
            read = in.transferTo(OutputStream.nullOutputStream());
        }
        if (read != expected) throw new AssertionError("read " + read + " of " + expected + " bytes");
        return read;
    }
}
