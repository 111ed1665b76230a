package dev.bulkfhir.server.cli;

import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.util.JSONObjectUtils;
import dev.bulkfhir.providers.auth.SigningKeys;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.text.ParseException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code token}: the SMART Backend Services client side, for the command line. Signs a client
 * assertion with the client's private JWK, trades it at the token endpoint, prints the access
 * token — so that {@code TOKEN=$(... token ...)} works in a shell.
 */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = "Get an access token with a client's private key (SMART Backend Services) and print it.")
public final class TokenCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--key", required = true, paramLabel = "FILE", description = "The client's private JWK (from keygen).")
    Path key;

    @Option(names = "--client-id", required = true, paramLabel = "ID", description = "The client's id.")
    String clientId;

    @Option(names = "--server", paramLabel = "URL",
            description = "The FHIR base; the token endpoint is read from its .well-known/smart-configuration.")
    String server;

    @Option(names = "--token-url", paramLabel = "URL", description = "The token endpoint itself (instead of --server).")
    String tokenUrl;

    @Option(names = "--scope", paramLabel = "SCOPES", defaultValue = "system/*.read",
            description = "The scopes to ask for (default: ${DEFAULT-VALUE}).")
    String scope;

    @Option(names = "--json", description = "Print the whole token response, not only the access token.")
    boolean json;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @Override
    public Integer call() throws Exception {
        if ((server == null) == (tokenUrl == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Give either --server or --token-url");
        }
        JWK privateKey;
        try {
            privateKey = SigningKeys.readPrivate(key);
        } catch (IOException e) {
            System.err.println("Cannot use " + key + ": " + e.getMessage());
            return 1;
        }
        try {
            String endpoint = tokenUrl != null ? tokenUrl : discover(server);
            String form = "grant_type=client_credentials"
                    + "&client_assertion_type=" + encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                    + "&client_assertion=" + encode(SigningKeys.clientAssertion(privateKey, clientId, endpoint))
                    + "&scope=" + encode(scope);
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(endpoint))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
            Map<String, Object> body = parse(response);
            if (response.statusCode() != 200 || body.get("access_token") == null) {
                System.err.println("The token endpoint refused (HTTP " + response.statusCode() + "): "
                        + (body.get("error") != null ? body.get("error") + ": " + body.get("error_description")
                        : response.body()));
                return 1;
            }
            System.out.println(json ? response.body() : body.get("access_token"));
            return 0;
        } catch (ConnectException e) {
            System.err.println("Cannot connect to " + (tokenUrl != null ? tokenUrl : server) + ": is the server running?");
            return 1;
        } catch (IOException | IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 1;
        }
    }

    private String discover(String base) throws IOException, InterruptedException {
        String url = base.replaceAll("/+$", "") + "/.well-known/smart-configuration";
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url))
                .header("Accept", "application/json").GET().build(), HttpResponse.BodyHandlers.ofString());
        Object endpoint = parse(response).get("token_endpoint");
        if (response.statusCode() != 200 || !(endpoint instanceof String)) {
            throw new IOException("No token endpoint at " + url + " (HTTP " + response.statusCode()
                    + "): is auth on there? Or give --token-url.");
        }
        return (String) endpoint;
    }

    private static Map<String, Object> parse(HttpResponse<String> response) {
        try {
            return JSONObjectUtils.parse(response.body());
        } catch (ParseException e) {
            return Map.of();
        }
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
