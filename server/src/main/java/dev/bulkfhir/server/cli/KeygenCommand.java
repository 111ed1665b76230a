package dev.bulkfhir.server.cli;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import dev.bulkfhir.providers.auth.SmartScope;
import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SigningKeys;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code keygen}: a key pair for a new client. Writes the private JWK, prints (and with
 * {@code --clients}, adds) the registration entry, and shows how to get a token with it.
 */
@Command(name = "keygen", mixinStandardHelpOptions = true,
        description = "Make a key pair for a new SMART Backend Services client: write its private key (JWK),"
                + " print the entry for the server's clients file (or add it there with --clients), and show"
                + " how to get a token.")
public final class KeygenCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--client-id", required = true, paramLabel = "ID", description = "The new client's id.")
    String clientId;

    @Option(names = "--alg", paramLabel = "RS384|ES384", defaultValue = "RS384",
            description = "Signing algorithm of the key (default: ${DEFAULT-VALUE}).")
    String algorithm;

    @Option(names = "--scope", paramLabel = "SCOPES", defaultValue = "system/*.read",
            description = "The most this client may be granted, space-separated SMART system scopes"
                    + " (default: ${DEFAULT-VALUE}).")
    String scope;

    @Option(names = "--out", paramLabel = "FILE", description = "Where to write the private JWK (default: ID.jwk).")
    Path out;

    @Option(names = "--clients", paramLabel = "FILE",
            description = "Also add the client to this clients file (made if missing): the server's --clients,"
                    + " which it re-reads, so no restart is needed.")
    Path clients;

    @Option(names = "--server", paramLabel = "URL", defaultValue = "http://localhost:8080/fhir",
            description = "The server's FHIR base, for the example printed (default: ${DEFAULT-VALUE}).")
    String server;

    @Option(names = "--force", description = "Overwrite an existing key file.")
    boolean force;

    @Option(names = "--config", paramLabel = "FILE", description = "The server's config file (for its clients key).")
    Path config;

    @Override
    public Integer call() throws Exception {
        if (!clientId.matches("[A-Za-z0-9._:@-]{1,128}")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--client-id: 1 to 128 letters, digits"
                    + " or . _ : @ -");
        }
        JWSAlgorithm alg = switch (algorithm.trim().toUpperCase(java.util.Locale.ROOT)) {
            case "RS384" -> JWSAlgorithm.RS384;
            case "ES384" -> JWSAlgorithm.ES384;
            default -> throw new CommandLine.ParameterException(spec.commandLine(),
                    "--alg must be RS384 or ES384, not " + algorithm);
        };
        List<SmartScope> scopes = SmartScope.parseAll(scope);
        if (scopes.isEmpty() || scopes.size() != scope.trim().split("\\s+").length) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--scope takes SMART system scopes such"
                    + " as system/*.read, system/Patient.read or system/*.rs; got '" + scope + "'");
        }
        Path keyFile = out != null ? out : Path.of(clientId + ".jwk");
        if (Files.exists(keyFile) && !force) {
            System.err.println(keyFile + " exists: choose another --out, or --force to replace it.");
            return 1;
        }

        JWK key = SigningKeys.generate(alg);
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("client_id", clientId);
        entry.put("scope", SmartScope.join(scopes));
        entry.put("token_endpoint_auth_method", "private_key_jwt");
        entry.put("jwks", Map.of("keys", List.of(key.toPublicJWK().toJSONObject())));
        if (clients != null) {
            try {
                ClientRegistry.register(clients, entry);
            } catch (IOException e) {
                System.err.println(e.getMessage());
                return 1;
            }
        }
        try {
            SigningKeys.writePrivate(keyFile, key, force);
        } catch (FileAlreadyExistsException e) {
            System.err.println(keyFile + " appeared meanwhile: not replaced.");
            return 1;
        }

        String jar = jarCommand();
        System.out.println("Client '" + clientId + "': " + alg + " key pair, kid " + key.getKeyID());
        System.out.println("  private key: " + keyFile.toAbsolutePath().normalize()
                + "  (keep it secret: whoever holds it is this client)");
        if (clients != null) {
            System.out.println("  registered:  " + clients.toAbsolutePath().normalize()
                    + "  (the server re-reads it: no restart needed)");
        }
        System.out.println();
        System.out.println(clients != null ? "The entry added to the clients file:"
                : "Add this entry to the server's clients file (a JSON array; serve --clients FILE),"
                        + " or run keygen again with --clients FILE to do it:");
        System.out.println(com.nimbusds.jose.util.JSONObjectUtils.toJSONString(entry));
        System.out.println();
        System.out.println("Get a token and use it:");
        System.out.println("  TOKEN=$(" + jar + " token --key " + keyFile + " --client-id " + clientId
                + " --server " + server + " --scope '" + SmartScope.join(scopes) + "')");
        System.out.println("  curl -H \"Authorization: Bearer $TOKEN\" " + server + "/Patient");
        return 0;
    }

    /** How to run this program: the jar it runs from, or the build's jar. */
    static String jarCommand() {
        try {
            Path location = Path.of(KeygenCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (location.toString().endsWith(".jar")) {
                Path here = Path.of("").toAbsolutePath();
                return "java -jar " + (location.startsWith(here) ? here.relativize(location) : location);
            }
        } catch (URISyntaxException | RuntimeException e) {
            // fall through to the build's path
        }
        return "java -jar server/target/bulk-fhir-server.jar";
    }
}
