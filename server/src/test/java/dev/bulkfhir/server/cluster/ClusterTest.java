package dev.bulkfhir.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.server.cluster.Cluster.Node;
import dev.bulkfhir.server.demo.DemoData;
import dev.bulkfhir.storage.Database;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.resource.ResourceStore;
import ca.uhn.fhir.context.FhirContext;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import javax.sql.DataSource;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three server JVMs on one PostgreSQL and one shared data directory, as behind a load balancer: a
 * client's requests go to any node; one export's parts are written by the workers of several nodes; a
 * node writing a part is killed (kill -9) in the middle of it and another node takes the part over and
 * the job completes with exactly the stored ids; a client assertion replayed on another node is
 * refused; the export limits hold across the nodes.
 */
class ClusterTest {

    private static final String TYPES = "Patient,Encounter,Observation,Condition,MedicationRequest";
    /** The test's lease: a dead node's job is resumed within it. */
    private static final int LEASE_SECONDS = 5;

    @Test
    void threeNodesServeOneClusterAndSurviveTheDeathOfOne(@TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir) throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            long begun = System.nanoTime();
            String jdbcUrl = postgres.getJdbcUrl("postgres", "postgres");
            DataSource database = postgres.getPostgresDatabase();
            Path dataDir = dir.resolve("data");
            Files.createDirectories(dataDir);
            // One worker per node, small ranges (a type is many tasks), one export per client, two in all.
            try (Database db = Database.open(jdbcUrl, "postgres", null, 4);
                    Cluster cluster = new Cluster(jdbcUrl, "postgres", dataDir, List.of("--export-workers", "1",
                    "--export-range-resources", "500", "--export-file-max-resources", "2000",
                    "--export-lease", LEASE_SECONDS + "s", "--export-max-jobs-per-client", "1",
                    "--export-max-jobs", "2"))) {
                // The data is stored while the nodes start (nothing is exported before both are done).
                ResourceStore store = new ResourceStore(db.dataSource(), FhirContext.forR4Cached(),
                        BinaryStore.inDataDirectory(db.dataSource(), dataDir, BinaryStore.DEFAULT_INLINE_THRESHOLD));
                CompletableFuture<Long> stored = CompletableFuture.supplyAsync(() -> DemoData.populate(store, 400, 7));
                for (String client : List.of("c1", "c2", "c3")) cluster.register(client);
                cluster.start(3);
                stored.join();
                System.out.printf("cluster test: three nodes serve after %.1f s (logs in %s)%n", (System.nanoTime() - begun) / 1e9, dir);
                Node a = cluster.nodes.get(0);
                Node b = cluster.nodes.get(1);
                Node c = cluster.nodes.get(2);
                assertEquals(3, new HashSet<>(cluster.nodes.stream().map(Node::leaseName).toList()).size());

                // Round robin: a token from A, kickoff on A, polls on B, downloads from C, cancel on A.
                String token = cluster.token(a, "c1");
                HttpResponse<String> accepted = Cluster.send("GET", a.url() + "/Patient/$export?_type=Patient", token);
                assertEquals(202, accepted.statusCode(), accepted.body());
                String status = accepted.headers().firstValue("Content-Location").orElseThrow();
                assertTrue(status.startsWith(Cluster.PUBLIC_BASE), status);
                HttpResponse<String> done = Cluster.await(status, token, List.of(b), Duration.ofSeconds(60));
                assertEquals(200, done.statusCode(), done.body());
                Map<String, List<String>> patients = Cluster.download(Cluster.JSON.readTree(done.body()), token,
                        List.of(c));
                assertEquals(idsInStore(database, "Patient"), new TreeSet<>(patients.get("Patient")));
                assertEquals(202, Cluster.send("DELETE", Cluster.on(a, status), token).statusCode());
                assertEquals(404, Cluster.send("GET", Cluster.on(b, status), token).statusCode());

                // A client assertion is good once, on whichever node: a replay on another node is refused.
                String assertion = cluster.assertion("c2");
                assertEquals(200, Cluster.tokenRequest(b, assertion).statusCode());
                HttpResponse<String> replay = Cluster.tokenRequest(c, assertion);
                assertEquals(400, replay.statusCode(), replay.body());
                assertTrue(replay.body().contains("invalid_client") && replay.body().contains("used before"),
                        replay.body());

                System.out.printf("cluster test: round robin done after %.1f s%n", (System.nanoTime() - begun) / 1e9);
                // The export of five types, kicked off on B; a node writing a part of it is frozen, then killed.
                String big = kickoff(cluster.token(c, "c1"), b);
                String jobId = big.substring(big.indexOf("_jobId=") + 7);
                Frozen frozen = freezeMidPart(database, jobId, cluster);
                Node runner = frozen.node();
                long stopped = frozen.stoppedAt();
                // Watched from now: the frozen node is as good as dead (its lease is not renewed).
                CompletableFuture<String> takenOver = CompletableFuture.supplyAsync(() ->
                        awaitTakeover(database, frozen.partId(), runner.leaseName(), Duration.ofSeconds(LEASE_SECONDS + 30),
                                () -> diagnosis(database, jobId, cluster)));
                List<Node> alive = new ArrayList<>(cluster.nodes);
                alive.remove(runner);

                // The limits, across nodes, while the job is held by the frozen node: c1 has one export.
                String c1 = cluster.token(alive.get(0), "c1");
                HttpResponse<String> second = Cluster.send("GET", alive.get(1).url() + "/$export?_type=" + TYPES, c1);
                assertEquals(429, second.statusCode(), second.body());
                assertTrue(second.body().contains("This client already has 1 exports"), second.body());
                assertTrue(second.headers().firstValue("Retry-After").isPresent());
                // Two clients at once on two nodes for the one place left of two: one is admitted.
                String c2 = cluster.token(alive.get(0), "c2");
                String c3 = cluster.token(alive.get(1), "c3");
                CompletableFuture<HttpResponse<String>> fromC2 = Cluster.HTTP.sendAsync(Cluster.request("GET",
                        alive.get(0).url() + "/$export?_type=" + TYPES, c2), HttpResponse.BodyHandlers.ofString());
                CompletableFuture<HttpResponse<String>> fromC3 = Cluster.HTTP.sendAsync(Cluster.request("GET",
                        alive.get(1).url() + "/$export?_type=" + TYPES, c3), HttpResponse.BodyHandlers.ofString());
                List<Integer> statuses = new ArrayList<>(List.of(fromC2.join().statusCode(), fromC3.join().statusCode()));
                statuses.sort(null);
                assertEquals(List.of(202, 429), statuses, fromC2.join().body() + "\n" + fromC3.join().body());
                HttpResponse<String> refused = fromC2.join().statusCode() == 429 ? fromC2.join() : fromC3.join();
                assertTrue(refused.body().contains("as many exports as it allows at once (2)"), refused.body());

                Cluster.signal(runner, "KILL");
                runner.server().process().waitFor();
                String taker = takenOver.join();
                double takeover = (takeoverAt - stopped) / 1e9;
                System.out.printf("cluster test: node %s died mid-part; node %s took the part over after %.1f s%n",
                        runner.name(), cluster.node(taker) == null ? taker : cluster.node(taker).name(), takeover);
                assertNotNull(cluster.node(taker), "taken over by a node of the cluster: " + taker);
                // The lease, and some slack for a loaded machine's scheduling.
                assertTrue(takeover <= LEASE_SECONDS + 3, "taken over after " + takeover + " s");

                HttpResponse<String> complete = Cluster.await(big, c1, alive, Duration.ofSeconds(60));
                assertEquals(200, complete.statusCode(), complete.body());
                JsonNode manifest = Cluster.JSON.readTree(complete.body());
                Map<String, List<String>> exported = Cluster.download(manifest, c1, alive);
                Map<String, Set<String>> expected = new TreeMap<>();
                Map<String, Set<String>> actual = new TreeMap<>();
                for (String type : TYPES.split(",")) {
                    expected.put(type, idsInStore(database, type));
                    List<String> ids = exported.getOrDefault(type, List.of());
                    Set<String> unique = new TreeSet<>(ids);
                    assertEquals(ids.size(), unique.size(), type + ": an id exported twice");
                    actual.put(type, unique);
                }
                assertEquals(expected, actual, "exactly the stored ids");
                assertTrue(expected.values().stream().mapToInt(Set::size).sum() > 5_000);
                // (Cluster.download checked that counts equal lines.) The parts of the one job: several nodes.
                Map<String, Integer> writers = partsDoneBy(database, jobId);
                System.out.printf("cluster test: parts written by node: %s%n", writers);
                assertTrue(writers.size() >= 2, "parts of one job on several nodes: " + writers);
                assertTrue(writers.containsKey(taker), "the part taken over was written by its taker: " + writers);
                System.out.printf("cluster test: done after %.1f s%n", (System.nanoTime() - begun) / 1e9);
            }
        }
    }

    private static String kickoff(String token, Node node) throws Exception {
        HttpResponse<String> accepted = Cluster.send("GET", node.url() + "/$export?_type=" + TYPES, token);
        assertEquals(202, accepted.statusCode(), accepted.body());
        return accepted.headers().firstValue("Content-Location").orElseThrow();
    }

    /** A node stopped (SIGSTOP) while it holds a part of the job. */
    private record Frozen(Node node, String partId, long stoppedAt) {}

    /**
     * Waits until the job is spread over parts, some recorded and one being written, and stops the node
     * writing it with SIGSTOP: what it has not recorded stays as it was, as at a kill -9. The part watched
     * is the one the node holds once stopped (it may have finished the part seen before the signal and
     * claimed another); a node stopped between two parts is let go and the wait goes on.
     */
    private static Frozen freezeMidPart(DataSource database, String jobId, Cluster cluster) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            String writer = partWriter(database, jobId);
            if (writer == null) {
                Thread.sleep(2);
                continue;
            }
            Node node = cluster.node(writer);
            assertNotNull(node, "a node of the cluster writes the part: " + writer);
            Cluster.signal(node, "STOP");
            long stoppedAt = System.nanoTime();
            Thread.sleep(200); // what the node sent before it stopped reaches the database
            String held = partHeldBy(database, jobId, writer);
            if (held != null) return new Frozen(node, held, stoppedAt);
            Cluster.signal(node, "CONT");
        }
        throw new AssertionError("the job did not start");
    }

    /** The node writing a part of the job once some part is recorded, or null while there is none. */
    private static String partWriter(DataSource database, String jobId) throws Exception {
        try (Connection connection = database.getConnection();
                PreparedStatement query = connection.prepareStatement("select j.state,"
                        + " (select count(*) from bf_export_part d where d.job_id = j.id and d.state = 'DONE'),"
                        + " p.lease_owner from bf_export_job j left join bf_export_part p"
                        + " on p.job_id = j.id and p.state = 'RUNNING' where j.id = ?")) {
            query.setString(1, jobId);
            try (ResultSet row = query.executeQuery()) {
                assertTrue(row.next(), "the job is in the table");
                String state = row.getString(1);
                assertNotEquals("COMPLETED", state, "the job completed before a node could be stopped mid-part");
                return state.equals("IN_PROGRESS") && row.getLong(2) > 0 ? row.getString(3) : null;
            }
        }
    }

    /** The part of the job that {@code node} is writing, or null. */
    private static String partHeldBy(DataSource database, String jobId, String node) throws Exception {
        try (Connection connection = database.getConnection();
                PreparedStatement query = connection.prepareStatement("select id from bf_export_part"
                        + " where job_id = ? and state = 'RUNNING' and lease_owner = ?")) {
            query.setString(1, jobId);
            query.setString(2, node);
            try (ResultSet row = query.executeQuery()) {
                return row.next() ? row.getString(1) : null;
            }
        }
    }

    /** How many parts of the job each node recorded. */
    private static Map<String, Integer> partsDoneBy(DataSource database, String jobId) throws Exception {
        Map<String, Integer> counts = new TreeMap<>();
        try (Connection connection = database.getConnection();
                PreparedStatement query = connection.prepareStatement("select lease_owner, count(*) from"
                        + " bf_export_part where job_id = ? and state = 'DONE' group by lease_owner")) {
            query.setString(1, jobId);
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) counts.put(rows.getString(1), rows.getInt(2));
            }
        }
        return counts;
    }

    /** When {@link #awaitTakeover} saw the new lease owner ({@link System#nanoTime}). */
    private static volatile long takeoverAt;

    /** The lease name of the node that took the part over from {@code dead}. */
    private static String awaitTakeover(DataSource database, String partId, String dead, Duration within,
            Supplier<String> diagnosis) {
        try {
            String taker = leaseChange(database, partId, dead, within, diagnosis);
            takeoverAt = System.nanoTime();
            return taker;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String leaseChange(DataSource database, String partId, String dead, Duration within,
            Supplier<String> diagnosis) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            try (Connection connection = database.getConnection();
                    PreparedStatement query = connection.prepareStatement(
                            "select state, lease_owner from bf_export_part where id = ?")) {
                query.setString(1, partId);
                try (ResultSet row = query.executeQuery()) {
                    if (!row.next()) return null; // the job is gone: the test then fails on it
                    if (row.getString(2) != null && !row.getString(2).equals(dead)) return row.getString(2);
                    if (row.getString(1).equals("DONE")) {
                        throw new AssertionError("part " + partId + " was recorded by the node said to be frozen");
                    }
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no node took part " + partId + " over within " + within + "\n" + diagnosis.get());
    }

    /** What a failed takeover leaves to read (CI keeps no files): the job's rows and the nodes' warnings. */
    private static String diagnosis(DataSource database, String jobId, Cluster cluster) {
        StringBuilder text = new StringBuilder();
        try (Connection connection = database.getConnection();
                PreparedStatement job = connection.prepareStatement(
                        "select state, spread, lease_owner, error_text from bf_export_job where id = ?");
                PreparedStatement parts = connection.prepareStatement("select id, res_type, state, lease_owner,"
                        + " lease_expires_at, range_after, range_up_to from bf_export_part where job_id = ?"
                        + " order by created_at")) {
            job.setString(1, jobId);
            try (ResultSet row = job.executeQuery()) {
                while (row.next()) {
                    text.append("job: ").append(row.getString(1)).append(" spread=").append(row.getBoolean(2))
                            .append(" lease=").append(row.getString(3)).append(" error=").append(row.getString(4))
                            .append('\n');
                }
            }
            parts.setString(1, jobId);
            try (ResultSet row = parts.executeQuery()) {
                while (row.next()) {
                    for (int i = 1; i <= 7; i++) text.append(row.getString(i)).append(i < 7 ? " " : "\n");
                }
            }
        } catch (Exception e) {
            text.append("(the tables could not be read: ").append(e).append(")\n");
        }
        for (Node node : cluster.nodes) {
            try {
                List<String> lines = Files.readAllLines(node.log()).stream()
                        .filter(line -> line.contains("WARN") || line.contains("ERROR") || line.contains("Export job"))
                        .toList();
                text.append("node ").append(node.name()).append(" (").append(node.leaseName()).append("):\n");
                lines.subList(Math.max(0, lines.size() - 25), lines.size())
                        .forEach(line -> text.append("  ").append(line).append('\n'));
            } catch (Exception e) {
                text.append("(log of node ").append(node.name()).append(": ").append(e).append(")\n");
            }
        }
        return text.toString();
    }

    private static Set<String> idsInStore(DataSource database, String type) throws Exception {
        Set<String> ids = new TreeSet<>();
        try (Connection connection = database.getConnection();
                PreparedStatement query = connection.prepareStatement(
                        "select res_id from bf_resource where res_type = ? and not deleted")) {
            query.setString(1, type);
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) ids.add(rows.getString(1));
            }
        }
        return ids;
    }
}
