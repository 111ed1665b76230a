package dev.bulkfhir.server.binary;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import dev.bulkfhir.server.ServerSettings;
import dev.bulkfhir.server.StandaloneServer;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;

/** The real server on a free port, and the HTTP calls the Binary tests make against it. */
final class BinaryServer implements AutoCloseable {

    static final FhirContext CONTEXT = FhirContext.forR4Cached();

    final StandaloneServer server;
    final IGenericClient client;
    final HttpClient http = HttpClient.newHttpClient();

    BinaryServer(Path dataDir) throws Exception {
        this(ServerSettings.defaults(dataDir));
    }

    BinaryServer(ServerSettings settings) throws Exception {
        server = new StandaloneServer(settings).start();
        CONTEXT.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.NEVER);
        client = CONTEXT.newRestfulGenericClient(server.baseUrl());
    }

    String base() {
        return server.baseUrl();
    }

    HttpResponse<byte[]> get(String path, String... headers) throws Exception {
        return send("GET", path, null, headers);
    }

    HttpResponse<byte[]> head(String path, String... headers) throws Exception {
        return send("HEAD", path, null, headers);
    }

    HttpResponse<byte[]> send(String method, String path, byte[] body, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** POSTs raw bytes and returns the new Binary's id. */
    String createRaw(byte[] content, String contentType, String... headers) throws Exception {
        String[] all = new String[headers.length + 2];
        all[0] = "Content-Type";
        all[1] = contentType;
        System.arraycopy(headers, 0, all, 2, headers.length);
        HttpResponse<byte[]> response = send("POST", "/Binary", content, all);
        if (response.statusCode() != 201) {
            throw new AssertionError("create answered " + response.statusCode() + ": " + new String(response.body()));
        }
        String location = response.headers().firstValue("Location").orElseThrow();
        return location.replaceAll(".*/Binary/([^/]+)/_history/.*", "$1");
    }

    static String header(HttpResponse<?> response, String name) {
        return response.headers().firstValue(name).orElse(null);
    }

    static String text(HttpResponse<byte[]> response) {
        return new String(response.body(), java.nio.charset.StandardCharsets.UTF_8);
    }

    static Map<String, String> headers(String... pairs) {
        java.util.LinkedHashMap<String, String> map = new java.util.LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) map.put(pairs[i], pairs[i + 1]);
        return map;
    }

    @Override
    public void close() throws Exception {
        server.close();
    }
}
