package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.providers.export.ExportSettings;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A chain of incremental exports (each {@code _since} the previous manifest's transactionTime) loses
 * nothing to writes that are in flight at a kickoff: every version written is in some export.
 */
class SinceChainTest {

    private static final int WRITERS = 4;
    private static final long WRITING_MILLIS = 4_000;

    @TempDir
    Path dataDir;

    @Test
    void everyVersionWrittenDuringTheChainIsInSomeExport() throws Exception {
        try (EmbeddedExportServer server = new EmbeddedExportServer(dataDir, ExportSettings.defaults().withWorkers(2))) {
            BulkClient client = new BulkClient(server.base);
            // The chain starts from an export of the empty store (which also warms the server up).
            String since = client.await(client.start("$export?_type=Patient")).get("transactionTime").asText();
            Set<String> written = ConcurrentHashMap.newKeySet();
            AtomicBoolean writing = new AtomicBoolean(true);
            AtomicReference<Throwable> writerFailure = new AtomicReference<>();
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                Thread writer = new Thread(() -> {
                    try {
                        while (writing.get()) {
                            // A real write transaction that stays open a while after taking its
                            // lastUpdated stamp, as a large transaction Bundle would.
                            String version = server.store.inTransaction(writes -> {
                                var stored = writes.create(new Patient().setActive(true));
                                sleepUpTo(30);
                                return stored.id() + "/" + stored.version();
                            });
                            written.add(version);
                        }
                    } catch (Throwable t) {
                        writerFailure.compareAndSet(null, t);
                    }
                }, "writer-" + w);
                writer.start();
                writers.add(writer);
            }

            Set<String> exported = new HashSet<>();
            long stopWriting = System.currentTimeMillis() + WRITING_MILLIS;
            int exports = 0;
            while (true) {
                boolean last = !writing.get();
                JsonNode manifest = client.await(client.start("$export?_type=Patient&_since=" + since));
                Map<String, List<IBaseResource>> byType = client.download(manifest);
                for (IBaseResource patient : byType.getOrDefault("Patient", List.of())) {
                    exported.add(patient.getIdElement().getIdPart() + "/" + patient.getMeta().getVersionId());
                }
                since = manifest.get("transactionTime").asText();
                exports++;
                if (last) break;
                if (System.currentTimeMillis() > stopWriting) {
                    writing.set(false);
                    for (Thread writer : writers) writer.join();
                }
            }
            System.out.println("since chain: " + exports + " exports, " + written.size() + " writes, "
                    + exported.size() + " exported");
            assertEquals(null, writerFailure.get());
            assertTrue(exports > 3 && written.size() > 100, exports + " exports, " + written.size() + " writes");
            Set<String> lost = new HashSet<>(written);
            lost.removeAll(exported);
            assertTrue(lost.isEmpty(), lost.size() + " of " + written.size() + " versions are in no export of a chain"
                    + " of " + exports + ": " + lost.stream().limit(5).toList());
        }
    }

    private static void sleepUpTo(int millis) {
        try {
            Thread.sleep(ThreadLocalRandom.current().nextInt(millis + 1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
