package dev.bulkfhir.examples.plain;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.RestfulServer;
import dev.bulkfhir.examples.FhirOnJetty;
import dev.bulkfhir.providers.BulkFhirPlugin;
import dev.bulkfhir.providers.auth.SmartAuth;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;

import java.nio.file.Path;

/**
 * Example (a): an existing plain HAPI server — its own Patient and Observation providers on its
 * own storage — that gains Binary, bulk export and bearer authorization by building the plugin
 * and calling {@code install} once.
 */
final class ClinicServer implements AutoCloseable {

    static final FhirContext CONTEXT = FhirContext.forR4Cached();

    final ClinicRecords records = new ClinicRecords(CONTEXT);
    final BulkFhirPlugin plugin;
    private final FhirOnJetty http;
    final String base;

    ClinicServer(Path dataDir, SmartAuth auth) throws Exception {
        http = FhirOnJetty.bind();
        base = http.baseUrl();
        plugin = BulkFhirPlugin.builder(CONTEXT)
                .resources(new ClinicResourceSource(records)) // export reads the host's storage
                .dataDirectory(dataDir)                       // files, job table, Binaries
                .auth(auth)
                .baseUrl(base)                                // the URL clients use (token audience)
                .start();
        RestfulServer fhir = new RestfulServer(CONTEXT) {
            @Override
            protected void initialize() {
                registerProvider(new ClinicProvider(Patient.class, records));
                registerProvider(new ClinicProvider(Observation.class, records));
                plugin.install(this);
            }
        };

        http.serve(fhir);
    }

    @Override
    public void close() throws Exception {
        try {
            http.close();
        } finally {
            plugin.close();
        }
    }
}
