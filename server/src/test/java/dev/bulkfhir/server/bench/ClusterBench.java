package dev.bulkfhir.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Drives the cluster benchmark against running nodes that share one PostgreSQL (auth off): the
 * export's throughput (one export; then one export per node at once), the kickoff time across nodes
 * (round robin, each cancelled on the next node), and the takeover of a part of a job whose node is
 * killed (kill -9) while writing it, checked to the id: every file's lines equal its count, no id twice, exactly the
 * ids the database holds. Prints one line per figure, the last one
 * {@code cluster: <n> nodes, takeover <s> s, exact yes|no, export <resources/s>}.
 * Usage: ClusterBench JDBC_URL KICKOFFS NODE... where a NODE is {@code URL,PID,LEASE_NAME}; with one
 * node only the throughput is measured.
 */
public final class ClusterBench {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Node(String url, long pid, String leaseName) {}

    public static void main(String[] args) throws Exception {
        String jdbcUrl = args[0];
        int kickoffs = Integer.parseInt(args[1]);
        List<Node> nodes = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            String[] parts = args[i].split(",");
            nodes.add(new Node(parts[0], Long.parseLong(parts[1]), parts[2]));
        }
        double single = export(nodes, 0, "one export");
        if (nodes.size() == 1) return;

        // One export per node at once: what the cluster does in all.
        long start = System.nanoTime();
        List<String> statuses = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) statuses.add(kickoff(nodes.get(i)));
        long resources = 0;
        for (int i = 0; i < statuses.size(); i++) {
            resources += count(await(statuses.get(i), nodes, Duration.ofHours(1)));
            send("DELETE", statuses.get(i), nodes.get(i));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("export x%d at once: %d resources in %.1f s = %.0f resources/s%n", nodes.size(), resources,
                seconds, resources / seconds);

        Latencies latencies = new Latencies();
        long began = System.nanoTime();
        for (int i = 0; i < kickoffs; i++) {
            long sent = System.nanoTime();
            String status = kickoff(nodes.get(i % nodes.size()));
            latencies.add(sent);
            send("DELETE", status, nodes.get((i + 1) % nodes.size()));
        }
        System.out.println(latencies.summary("kickoff round robin over " + nodes.size() + " nodes", 1,
                (System.nanoTime() - began) / 1e9));

        // Takeover: a node killed while it writes a part of the job (its parts are spread over every node).
        String status = kickoff(nodes.get(0));
        String jobId = status.substring(status.indexOf("_jobId=") + 7);
        Node runner = null;
        try (Connection db = DriverManager.getConnection(jdbcUrl)) {
            String[] part = null;
            while (runner == null) {
                part = runningPart(db, jobId);
                if (part[0].equals("COMPLETED")) throw new IllegalStateException("completed before the kill");
                if (part[1] != null) {
                    for (Node node : nodes) if (node.leaseName().equals(part[2])) runner = node;
                }
                Thread.sleep(5);
            }
            long killed = System.nanoTime();
            ProcessHandle.of(runner.pid()).orElseThrow().destroyForcibly();
            String taker;
            while (true) {
                String owner = partOwner(db, part[1]);
                if (owner != null && !owner.equals(runner.leaseName())) {
                    taker = owner;
                    break;
                }
                Thread.sleep(20);
            }
            double takeover = (System.nanoTime() - killed) / 1e9;
            System.out.printf("takeover: node %s killed mid-part, part resumed by %s after %.1f s%n",
                    runner.leaseName(), taker, takeover);
            List<Node> alive = new ArrayList<>(nodes);
            alive.remove(runner);
            JsonNode manifest = await(status, alive, Duration.ofHours(1));
            boolean exact = exact(db, manifest, alive);
            System.out.printf("cluster: %d nodes, takeover %.1f s, exact %s, export %.0f resources/s%n", nodes.size(),
                    takeover, exact ? "yes" : "no", single);
            if (!exact) System.exit(1);
        }
    }

    /** One export of everything, kicked off on node {@code at}, polled round robin; prints and returns resources/s. */
    private static double export(List<Node> nodes, int at, String label) throws Exception {
        long start = System.nanoTime();
        String status = kickoff(nodes.get(at));
        long resources = count(await(status, nodes, Duration.ofHours(1)));
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("%s on %d node(s): %d resources in %.1f s = %.0f resources/s%n", label, nodes.size(),
                resources, seconds, resources / seconds);
        send("DELETE", status, nodes.get(at));
        return resources / seconds;
    }

    private static String kickoff(Node node) throws Exception {
        HttpResponse<String> accepted = send("GET", node.url() + "/$export", node);
        if (accepted.statusCode() != 202) throw new IllegalStateException("kickoff: " + accepted.body());
        return accepted.headers().firstValue("Content-Location").orElseThrow();
    }

    private static JsonNode await(String status, List<Node> nodes, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        for (int i = 0; ; i++) {
            HttpResponse<String> poll = send("GET", status, nodes.get(i % nodes.size()));
            if (poll.statusCode() == 200) return JSON.readTree(poll.body());
            if (poll.statusCode() != 202 && poll.statusCode() != 429) {
                throw new IllegalStateException("status: " + poll.statusCode() + " " + poll.body());
            }
            if (System.nanoTime() > deadline) throw new IllegalStateException("export still running after " + within);
            Thread.sleep(poll.statusCode() == 429 ? 1000 : 200);
        }
    }

    private static long count(JsonNode manifest) {
        long resources = 0;
        for (JsonNode file : manifest.get("output")) resources += file.get("count").asLong();
        return resources;
    }

    /** Every file read (round robin over the nodes): lines equal counts, no id twice, the database's ids. */
    private static boolean exact(Connection db, JsonNode manifest, List<Node> nodes) throws Exception {
        Map<String, Set<String>> exported = new HashMap<>();
        boolean exact = true;
        int i = 0;
        for (JsonNode file : manifest.get("output")) {
            Node node = nodes.get(i++ % nodes.size());
            HttpResponse<InputStream> body = HTTP.send(HttpRequest.newBuilder(URI.create(on(file.get("url").asText(), node)))
                    .header("Accept", "application/fhir+ndjson").build(), HttpResponse.BodyHandlers.ofInputStream());
            Set<String> ids = exported.computeIfAbsent(file.get("type").asText(), t -> new HashSet<>());
            long lines = 0;
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(body.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null; lines++) {
                    if (!ids.add(JSON.readTree(line).get("id").asText())) {
                        System.out.println("exact: an id twice in " + file.get("type").asText());
                        exact = false;
                    }
                }
            }
            if (lines != file.get("count").asLong()) {
                System.out.println("exact: " + lines + " lines, manifest count " + file.get("count").asLong());
                exact = false;
            }
        }
        for (Map.Entry<String, Set<String>> type : exported.entrySet()) {
            Set<String> stored = new HashSet<>();
            try (PreparedStatement query = db.prepareStatement(
                    "select res_id from bf_resource where res_type = ? and not deleted")) {
                query.setString(1, type.getKey());
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) stored.add(rows.getString(1));
                }
            }
            if (!stored.equals(type.getValue())) {
                System.out.println("exact: " + type.getKey() + " exported " + type.getValue().size() + ", stored "
                        + stored.size());
                exact = false;
            }
        }
        return exact;
    }

    /** The job's state and one part being written (id and node; nulls when none is) once it has recorded some. */
    private static String[] runningPart(Connection db, String jobId) throws Exception {
        try (PreparedStatement query = db.prepareStatement("select j.state, p.id, p.lease_owner from bf_export_job j"
                + " left join bf_export_part p on p.job_id = j.id and p.state = 'RUNNING' and exists (select 1 from"
                + " bf_export_part d where d.job_id = j.id and d.state = 'DONE') where j.id = ?")) {
            query.setString(1, jobId);
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) throw new IllegalStateException("no job " + jobId);
                return new String[] {row.getString(1), row.getString(2), row.getString(3)};
            }
        }
    }

    private static String partOwner(Connection db, String partId) throws Exception {
        try (PreparedStatement query = db.prepareStatement("select lease_owner from bf_export_part where id = ?")) {
            query.setString(1, partId);
            try (ResultSet row = query.executeQuery()) {
                return row.next() ? row.getString(1) : null;
            }
        }
    }

    /** A URL from an answer (any node's) sent to {@code node}. */
    private static String on(String url, Node node) {
        int fhir = url.indexOf("/fhir/");
        return node.url() + url.substring(fhir + "/fhir".length());
    }

    private static HttpResponse<String> send(String method, String url, Node node) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url.startsWith(node.url()) ? url : on(url, node)))
                .timeout(Duration.ofMinutes(5)).header("Accept", "application/fhir+json")
                .header("Prefer", "respond-async").method(method, HttpRequest.BodyPublishers.noBody()).build();
        return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    }
}
