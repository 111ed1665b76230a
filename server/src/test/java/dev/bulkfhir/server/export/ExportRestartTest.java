package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import dev.bulkfhir.providers.auth.ClientRegistry;
import dev.bulkfhir.providers.auth.SigningKeys;
import dev.bulkfhir.server.ServerProcess;
import dev.bulkfhir.server.bench.ExportChaos;
import dev.bulkfhir.server.demo.DemoData;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static dev.bulkfhir.server.export.BulkClient.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The standalone server killed (kill -9) in the middle of an export, and a new one started on the
 * same data directory: the job completes with exactly the resources it had to export, none twice.
 * And the chaos run of {@code bench/chaos.sh}, short: one kill at each phase of an export.
 */
class ExportRestartTest {

    static final int PATIENTS = 100;
    static final long SEED = 11;
    /** One worker, small files, and _elements (every resource parsed and re-encoded) keep the export running long enough to be killed in the middle. */
    static final String[] SLOW = {"--export-workers", "1", "--export-file-max-resources", "50",
            "--export-range-resources", "300"};
    static final Pattern TYPES_DONE = Pattern.compile(": (\\d+) of (\\d+) types, (\\d+)");

    @Test
    void aServerKilledMidExportIsResumedByTheNextWithExactlyTheRightResources(@TempDir Path dataDir) throws Exception {
        String[] firstArgs = Stream.concat(Stream.of("--demo", "--demo-patients", Integer.toString(PATIENTS),
                "--demo-seed", Long.toString(SEED)), Stream.of(SLOW)).toArray(String[]::new);
        ServerProcess first = ServerProcess.start(dataDir, firstArgs);
        String jobId;
        try {
            BulkClient client = new BulkClient(first.baseUrl());
            String status = client.start("$export?_elements=id");
            jobId = BulkClient.jobId(status);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (true) {
                HttpResponse<byte[]> poll = client.poll(status);
                assertEquals(202, poll.statusCode(), "the export finished before the server could be killed: "
                        + text(poll));
                Matcher progress = TYPES_DONE.matcher(poll.headers().firstValue("X-Progress").orElse(""));
                // Killed with some types complete and one half written: both must come out right.
                if (progress.find() && Integer.parseInt(progress.group(1)) >= 2 && Long.parseLong(progress.group(3)) > 0) {
                    break;
                }
                assertTrue(System.nanoTime() < deadline, "the export never got going");
                Thread.sleep(40); // often, yet under the status URL's poll limit (a 429 would pause for a second)
            }
        } finally {
            first.process().destroyForcibly(); // kill -9: no shutdown hook, leases left as they were
            assertTrue(first.process().waitFor(30, TimeUnit.SECONDS));
        }

        ServerProcess second = ServerProcess.start(dataDir, SLOW);
        try {
            BulkClient client = new BulkClient(second.baseUrl());
            JsonNode manifest = client.await(second.baseUrl() + "/$export-poll-status?_jobId=" + jobId);
            Map<String, List<IBaseResource>> byType = client.download(manifest);

            Map<String, Set<String>> expected = new TreeMap<>();
            new DemoData(BulkClient.CONTEXT, SEED).generate(PATIENTS, resource -> {
                String type = BulkClient.CONTEXT.getResourceType(resource);
                expected.computeIfAbsent(type, t -> new TreeSet<>()).add(resource.getIdElement().getIdPart());
            });
            Map<String, Set<String>> exported = new TreeMap<>();
            for (Map.Entry<String, List<IBaseResource>> entry : byType.entrySet()) {
                List<String> ids = BulkClient.ids(byType, entry.getKey());
                assertEquals(ids.size(), new HashSet<>(ids).size(), "a resource exported twice in " + entry.getKey());
                exported.put(entry.getKey(), new TreeSet<>(ids));
            }
            ExportTest.assertSameSets(expected, exported);

            // Nothing of the killed run is left beside the files the manifest lists.
            int files = manifest.get("output").size() + manifest.get("error").size();
            try (Stream<Path> onDisk = Files.list(dataDir.resolve("export").resolve(jobId))) {
                assertEquals(files, onDisk.count());
            }
        } finally {
            second.process().destroy();
            if (!second.process().waitFor(30, TimeUnit.SECONDS)) {
                second.process().destroyForcibly();
                fail("the second server did not stop on SIGTERM");
            }
        }
    }

    /**
     * What the server answered is on disk: a kickoff and a cancel, each acknowledged with 202, survive
     * a kill -9 right after (H2 used to write commits up to half a second later).
     */
    @Test
    void aKickoffAndACancelAcknowledgedJustBeforeAKillAreKept(@TempDir Path dataDir) throws Exception {
        ServerProcess first = ServerProcess.start(dataDir, "--demo", "--demo-patients", "5");
        String kept;
        String cancelled;
        try {
            BulkClient client = new BulkClient(first.baseUrl());
            cancelled = BulkClient.jobId(client.start("$export?_type=Patient"));
            kept = BulkClient.jobId(client.start("$export?_type=Observation"));
            HttpResponse<byte[]> cancel = client.send("DELETE", "$export-poll-status?_jobId=" + cancelled, null);
            assertEquals(202, cancel.statusCode(), text(cancel));
        } finally {
            first.kill();
        }
        ServerProcess second = ServerProcess.start(dataDir);
        try {
            BulkClient client = new BulkClient(second.baseUrl());
            HttpResponse<byte[]> gone = client.get("$export-poll-status?_jobId=" + cancelled);
            assertEquals(404, gone.statusCode(), "the cancel was lost: " + text(gone));
            client.await(second.baseUrl() + "/$export-poll-status?_jobId=" + kept);
        } finally {
            second.kill();
        }
    }

    /** bench/chaos.sh in small: auth on, one kill -9 at each of the five phases, each job checked to its end. */
    @Test
    void aKillAtEveryPhaseOfAnExportLeavesEveryJobCompleteCancelledOrFailed(@TempDir Path dir) throws Exception {
        Path dataDir = dir.resolve("data");
        Files.createDirectories(dataDir);
        JWK key = SigningKeys.generate(JWSAlgorithm.ES384);
        Map<String, Object> client = new LinkedHashMap<>();
        client.put("client_id", "chaos");
        client.put("scope", "system/*.*");
        client.put("jwks", Map.of("keys", List.of(key.toPublicJWK().toJSONObject())));
        ClientRegistry.register(dataDir.resolve("clients.json"), client);
        Path keyFile = dir.resolve("chaos.jwk");
        SigningKeys.writePrivate(keyFile, key, false);

        long seed = Long.getLong("chaos.seed", System.nanoTime());
        ExportChaos.Config config = new ExportChaos.Config(ServerProcess.testLauncher(),
                List.of("--demo", "--demo-patients", "60", "--export-file-max-resources", "20",
                        "--export-retention", "2m"),
                // The time is a ceiling for a slow machine: five kills take well under a minute on an idle one.
                dataDir, "chaos", keyFile, seed, Duration.ofMinutes(5), ExportChaos.Phase.values().length,
                Duration.ofSeconds(60), false, System.out);
        ExportChaos.Report report = new ExportChaos(config).run();
        assertEquals(List.of(), report.failures(), "seed " + seed + " (-Dchaos.seed to repeat): " + report.summary());
        for (ExportChaos.Phase phase : ExportChaos.Phase.values()) {
            assertEquals(1, report.killsByPhase().getOrDefault(phase, 0), phase + ": " + report);
        }
    }
}
