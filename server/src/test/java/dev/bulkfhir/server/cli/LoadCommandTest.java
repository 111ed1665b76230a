package dev.bulkfhir.server.cli;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.server.load.Loader;
import dev.bulkfhir.storage.resource.ResourceStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.sql.DataSource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLTransientConnectionException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoadCommandTest {

    @Test
    void anAbortedLoadEndsWithItsSummaryAndReasonNotAStackTrace(@TempDir Path dir) throws IOException {
        DataSource unreachable = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
                    throw new SQLTransientConnectionException("Connection is not available, request timed out");
                });
        Path file = dir.resolve("Patient.ndjson");
        Files.writeString(file, "{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Loader loader = new Loader(new ResourceStore(unreachable, FhirContext.forR4Cached()), null, false);

        int exit = LoadCommand.run(loader, List.of(file), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));

        assertEquals(1, exit);
        String printed = out.toString(StandardCharsets.UTF_8);
        String error = err.toString(StandardCharsets.UTF_8);
        assertTrue(printed.startsWith("Loaded 0 resources from 1 file"), printed);
        assertTrue(error.startsWith("Load stopped after 0 resources: "), error);
        assertTrue(error.contains("Connection is not available"), error);
        assertFalse(error.contains("\tat "), "no stack trace: " + error);
    }
}
