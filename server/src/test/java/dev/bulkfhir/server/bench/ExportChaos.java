package dev.bulkfhir.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.jwk.JWK;
import dev.bulkfhir.providers.auth.SigningKeys;
import dev.bulkfhir.server.ServerProcess;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Chaos for Bulk Data export: the standalone server, auth on, is killed with kill -9 at each phase of
 * an export (just after the kickoff, in the middle of a type, right after a type was recorded, while
 * the last resources are written and the job completes, right after a cancel) and started again on
 * the same data directory; every job must then end COMPLETED (every file's lines equal to its manifest
 * count, no id twice, exactly the ids the store holds for the exported types, no stray file on disk),
 * CANCELLED (404 on poll after the cancel, its folder deleted) or FAILED (with an OperationOutcome),
 * within a bounded time.
 *
 * <p>The phase is aimed at from the job's {@code X-Progress}, polled every few milliseconds: the
 * resources written so far against the total the job must write (known from a clean export made
 * first and checked against the store through the FHIR API), and the types recorded so far. A kill
 * that comes too late (the job completed first) is counted as such.
 *
 * <p>Used by {@code bench/chaos.sh} (minutes, with the built jar) and by a short JUnit run in CI.
 */
public final class ExportChaos {

    public enum Phase {
        KICKOFF("just after kickoff"), MID_TYPE("mid-type"), BETWEEN_TYPES("between types"),
        FINALISING("while finalising"), AFTER_CANCEL("right after a cancel");

        final String label;

        Phase(String label) {
            this.label = label;
        }
    }

    /**
     * @param launcher      the command that runs the server, up to its options (java ... -jar the.jar)
     * @param serverOptions options given to every start besides port and data directory (demo data, file sizes...)
     * @param clientKey     the private JWK of {@code clientId}, registered with scope system/*.*
     * @param jobTimeout    how long a job may take after the last kill before it counts as stuck
     * @param killResumed   whether a resumed job is at times killed again (else one kill per job, so that
     *                      the first five kills cover the five phases)
     */
    public record Config(List<String> launcher, List<String> serverOptions, Path dataDir, String clientId,
            Path clientKey, long seed, Duration budget, int maxKills, Duration jobTimeout, boolean killResumed,
            PrintStream out) {}

    /** What happened: kills by phase (and how many of them came after the job had completed), jobs by ending. */
    public record Report(int kills, Map<Phase, Integer> killsByPhase, Map<Phase, Integer> lateKills, int jobs,
            Map<String, Integer> endings, List<String> failures) {

        public String summary() {
            return "chaos: " + kills + " kills survived, " + jobs + " jobs, " + failures.size() + " failures";
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PROGRESS = Pattern.compile("(\\d+) of (\\d+) types, (\\d+) resources");

    private final Config config;
    private final Random random;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();
    private final Map<Phase, Integer> killsByPhase = new EnumMap<>(Phase.class);
    private final Map<Phase, Integer> lateKills = new EnumMap<>(Phase.class);
    private final Map<String, Integer> endings = new TreeMap<>();
    private final List<String> failures = new ArrayList<>();
    private final List<String> cancelledJobs = new ArrayList<>();
    private final Path log;
    private ServerProcess server;
    private String token;
    private long tokenAt;
    private int kills;
    private int jobs;
    /** The resource ids the store holds, by type: what a complete export of those types must contain. */
    private Map<String, Set<String>> store;
    private long storeTotal;

    public ExportChaos(Config config) {
        this.config = config;
        this.random = new Random(config.seed());
        this.log = config.dataDir().resolveSibling(config.dataDir().getFileName() + ".log");
    }

    /** One export job as the driver knows it. */
    private static final class Job {
        final String id;
        final Set<String> types;
        boolean cancelled;
        String lastProgress = "";

        Job(String id, Set<String> types) {
            this.id = id;
            this.types = types;
        }
    }

    /** The state of a job as one poll saw it. */
    private record Poll(int status, int typesDone, int typesTotal, long resources, String progress, byte[] body) {}

    public Report run() throws Exception {
        long deadline = System.nanoTime() + config.budget().toNanos();
        // Stopped early (Ctrl+C), the driver takes its server with it.
        Thread reaper = new Thread(() -> {
            if (server != null) server.process().destroyForcibly();
        });
        Runtime.getRuntime().addShutdownHook(reaper);
        start();
        try {
            establishBaseline();
            List<Phase> phases = new ArrayList<>();
            while (kills < config.maxKills() && System.nanoTime() < deadline) {
                if (phases.isEmpty()) {
                    phases.addAll(List.of(Phase.values()));
                    Collections.shuffle(phases, random);
                }
                Phase phase = phases.remove(0);
                Job job = kickoff(phase);
                if (!killAt(job, phase)) {
                    phases.add(phase); // the job was done before it could be hit: aim again with the next one
                }
                // Sometimes the resumed job is killed again, at whatever it does then.
                while (config.killResumed() && phase != Phase.AFTER_CANCEL && random.nextInt(3) == 0 && kills < config.maxKills()
                        && System.nanoTime() < deadline) {
                    Phase again = List.of(Phase.MID_TYPE, Phase.BETWEEN_TYPES, Phase.FINALISING).get(random.nextInt(3));
                    if (!killAt(job, again)) break;
                }
                settle(job);
            }
            checkCancelledFoldersGo();
        } finally {
            if (server != null) server.kill();
            Runtime.getRuntime().removeShutdownHook(reaper);
        }
        return new Report(kills, killsByPhase, lateKills, jobs, endings, failures);
    }

    // ---------------------------------------------------------------- the server

    private void start() throws Exception {
        List<String> command = new ArrayList<>(config.launcher());
        command.addAll(List.of("--port", "0", "--data-dir", config.dataDir().toString()));
        command.addAll(config.serverOptions());
        server = ServerProcess.start(command, log);
        token = null;
    }

    /** kill -9, then a new server on the same data directory. */
    private void killAndRestart(Job job, Phase phase, boolean late) throws Exception {
        server.kill();
        kills++;
        killsByPhase.merge(phase, 1, Integer::sum);
        if (late) lateKills.merge(phase, 1, Integer::sum);
        long restart = System.nanoTime();
        start();
        config.out().printf("kill %d %s: job %s at '%s'%s; restarted in %.1f s%n", kills, phase.label,
                job.id.substring(0, 8), job.lastProgress, late ? " (it had completed)" : "",
                (System.nanoTime() - restart) / 1e9);
    }

    private String base() {
        return server.baseUrl();
    }

    // ---------------------------------------------------------------- HTTP with a token

    private HttpResponse<byte[]> send(String method, String url, String... headers) throws Exception {
        for (int attempt = 0; ; attempt++) {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                    .method(method, HttpRequest.BodyPublishers.noBody())
                    .header("Authorization", "Bearer " + token());
            for (int i = 0; i < headers.length; i += 2) {
                request.header(headers[i], headers[i + 1]);
            }
            HttpResponse<byte[]> response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() == 401 && attempt == 0) {
                token = null; // expired: one new token, one retry
                continue;
            }
            return response;
        }
    }

    private String token() throws Exception {
        if (token != null && System.nanoTime() - tokenAt < Duration.ofMinutes(3).toNanos()) {
            return token;
        }
        HttpResponse<String> discovery = http.send(HttpRequest.newBuilder(URI.create(base()
                + "/.well-known/smart-configuration")).build(), HttpResponse.BodyHandlers.ofString());
        String endpoint = JSON.readTree(discovery.body()).path("token_endpoint").asText();
        JWK key = SigningKeys.readPrivate(config.clientKey());
        String form = "grant_type=client_credentials&client_assertion_type="
                + encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                + "&client_assertion=" + encode(SigningKeys.clientAssertion(key, config.clientId(), endpoint))
                + "&scope=" + encode("system/*.*");
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(endpoint))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("token endpoint: " + response.statusCode() + " " + response.body());
        }
        token = JSON.readTree(response.body()).get("access_token").asText();
        tokenAt = System.nanoTime();
        return token;
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    private String statusUrl(Job job) {
        return base() + "/$export-poll-status?_jobId=" + job.id;
    }

    private Poll poll(Job job) throws Exception {
        HttpResponse<byte[]> response = send("GET", statusUrl(job), "Accept", "application/json");
        String progress = response.headers().firstValue("X-Progress").orElse("");
        Matcher matcher = PROGRESS.matcher(progress);
        Poll poll = matcher.find()
                ? new Poll(response.statusCode(), Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2)),
                        Long.parseLong(matcher.group(3)), progress, response.body())
                : new Poll(response.statusCode(), 0, 0, 0, progress, response.body());
        if (response.statusCode() == 202) job.lastProgress = progress;
        if (response.statusCode() == 200) job.lastProgress = "completed";
        return poll;
    }

    // ---------------------------------------------------------------- the baseline

    /** A clean export of everything, checked against the store read through the FHIR API. */
    private void establishBaseline() throws Exception {
        HttpResponse<byte[]> accepted = send("GET", base() + "/$export", "Accept", "application/fhir+json",
                "Prefer", "respond-async");
        if (accepted.statusCode() != 202) throw new IllegalStateException("kickoff: " + text(accepted));
        Job job = new Job(jobId(accepted), null);
        jobs++;
        JsonNode manifest = awaitManifest(job);
        if (manifest == null) throw new IllegalStateException("the clean export did not complete: " + failures);
        Map<String, Set<String>> exported = readFiles(job, manifest);
        store = new TreeMap<>();
        for (String type : exported.keySet()) {
            store.put(type, idsInStore(type));
        }
        if (!store.equals(exported)) {
            fail(job, "the clean export differs from the store: " + difference(store, exported));
        }
        storeTotal = store.values().stream().mapToLong(Set::size).sum();
        endings.merge("COMPLETED", 1, Integer::sum);
        send("DELETE", statusUrl(job));
        config.out().printf("clean export: %d resources of %d types; the store agrees%n", storeTotal, store.size());
    }

    /** Every id of a type, paging through a search. */
    private Set<String> idsInStore(String type) throws Exception {
        Set<String> ids = new HashSet<>();
        String url = base() + "/" + type + "?_count=1000&_elements=id";
        while (url != null) {
            HttpResponse<byte[]> page = send("GET", url, "Accept", "application/fhir+json");
            if (page.statusCode() != 200) throw new IllegalStateException("search " + url + ": " + text(page));
            JsonNode bundle = JSON.readTree(page.body());
            for (JsonNode entry : bundle.path("entry")) {
                ids.add(entry.path("resource").path("id").asText());
            }
            url = null;
            for (JsonNode link : bundle.path("link")) {
                if (link.path("relation").asText().equals("next")) url = link.path("url").asText();
            }
        }
        return ids;
    }

    // ---------------------------------------------------------------- one round

    /** A kickoff of every type, named in a random order (or none named, at times, for the server's defaults). */
    private Job kickoff(Phase phase) throws Exception {
        List<String> types = new ArrayList<>(store.keySet());
        Collections.shuffle(types, random);
        boolean named = phase != Phase.KICKOFF || random.nextBoolean();
        String url = base() + "/$export" + (named ? "?_type=" + String.join(",", types) : "");
        HttpResponse<byte[]> accepted = send("GET", url, "Accept", "application/fhir+json", "Prefer", "respond-async");
        if (accepted.statusCode() != 202) throw new IllegalStateException("kickoff: " + text(accepted));
        jobs++;
        return new Job(jobId(accepted), new LinkedHashSet<>(types));
    }

    /**
     * Polls the job until it reaches the point of {@code phase}, then kills the server and starts it
     * again. False (and no kill) when the job had already ended before the polling began.
     */
    private boolean killAt(Job job, Phase phase) throws Exception {
        int types = job.types.size();
        long target = switch (phase) {
            case MID_TYPE, AFTER_CANCEL -> 1 + (long) (random.nextDouble() * (storeTotal - 1));
            case FINALISING -> storeTotal - random.nextInt(20);
            default -> 0;
        };
        int typesTarget = 1 + random.nextInt(Math.max(1, types - 1));
        long deadline = System.nanoTime() + config.jobTimeout().toNanos();
        boolean first = true;
        while (phase != Phase.KICKOFF) {
            Poll poll = poll(job);
            if (poll.status() != 202) {
                if (first) return false; // ended already (resumed and finished, or failed)
                break; // too late: it completed between two polls
            }
            first = false;
            boolean reached = switch (phase) {
                case MID_TYPE, AFTER_CANCEL -> poll.resources() >= target && poll.typesDone() < poll.typesTotal();
                case BETWEEN_TYPES -> poll.typesDone() >= typesTarget;
                case FINALISING -> poll.resources() >= target || (poll.typesTotal() > 0
                        && poll.typesDone() == poll.typesTotal());
                default -> true;
            };
            if (reached) break;
            if (System.nanoTime() > deadline) {
                fail(job, "stuck before " + phase.label + ": " + job.lastProgress);
                return false;
            }
            Thread.sleep(3);
        }
        boolean late = job.lastProgress.equals("completed");
        if (phase == Phase.KICKOFF) {
            Thread.sleep(random.nextInt(30));
        } else if (phase == Phase.AFTER_CANCEL && !late) {
            HttpResponse<byte[]> cancel = send("DELETE", statusUrl(job));
            if (cancel.statusCode() != 202) fail(job, "cancel answered " + text(cancel));
            job.cancelled = true;
            Thread.sleep(random.nextInt(20));
        }
        killAndRestart(job, phase, late);
        return true;
    }

    /** Waits (bounded) for the job to end, checks how it ended, and deletes it. */
    private void settle(Job job) throws Exception {
        if (job.cancelled) {
            HttpResponse<byte[]> response = send("GET", statusUrl(job), "Accept", "application/json");
            if (response.statusCode() == 404 && isOutcome(response.body())) {
                endings.merge("CANCELLED", 1, Integer::sum);
                cancelledJobs.add(job.id);
            } else {
                fail(job, "a cancelled export answered " + text(response));
            }
            return;
        }
        JsonNode manifest = awaitManifest(job);
        if (manifest == null) return;
        Map<String, Set<String>> exported = readFiles(job, manifest);
        Map<String, Set<String>> expected = new TreeMap<>(store);
        expected.keySet().retainAll(job.types);
        if (!expected.equals(exported)) {
            fail(job, "exported resources differ from the store: " + difference(expected, exported));
        }
        endings.merge("COMPLETED", 1, Integer::sum);
        HttpResponse<byte[]> deleted = send("DELETE", statusUrl(job));
        if (deleted.statusCode() != 202) fail(job, "DELETE of a completed export answered " + text(deleted));
    }

    /** The manifest once the job completes; null (and the failure or ending recorded) otherwise. */
    private JsonNode awaitManifest(Job job) throws Exception {
        long deadline = System.nanoTime() + config.jobTimeout().toNanos();
        while (true) {
            HttpResponse<byte[]> response;
            try {
                response = send("GET", statusUrl(job), "Accept", "application/json");
            } catch (HttpTimeoutException e) {
                fail(job, "a poll did not answer within 60 s");
                return null;
            }
            int status = response.statusCode();
            if (status == 200) {
                return JSON.readTree(response.body());
            }
            if (status >= 500 && isOutcome(response.body())) {
                endings.merge("FAILED", 1, Integer::sum);
                config.out().printf("job %s FAILED: %s%n", job.id.substring(0, 8), text(response));
                return null;
            }
            if (status == 202) {
                job.lastProgress = response.headers().firstValue("X-Progress").orElse("");
            } else if (status != 429) {
                fail(job, "poll answered " + text(response));
                return null;
            }
            if (System.nanoTime() > deadline) {
                fail(job, "stuck: still '" + job.lastProgress + "' after " + config.jobTimeout().toSeconds() + " s");
                return null;
            }
            Thread.sleep(status == 429 ? 1000 : 100);
        }
    }

    /**
     * Downloads every file of the manifest and checks it: the lines equal the count, each line a
     * resource of the file's type, no id twice in a type, no error file, no stray file on disk.
     * Returns the ids by type.
     */
    private Map<String, Set<String>> readFiles(Job job, JsonNode manifest) throws Exception {
        Map<String, Set<String>> ids = new TreeMap<>();
        for (JsonNode file : manifest.path("output")) {
            String type = file.path("type").asText();
            HttpResponse<byte[]> download = send("GET", file.path("url").asText(), "Accept", "application/fhir+ndjson");
            if (download.statusCode() != 200) {
                fail(job, "download of " + file.path("url").asText() + " answered " + text(download));
                continue;
            }
            String body = new String(download.body(), StandardCharsets.UTF_8);
            List<String> lines = body.lines().toList(); // JSON escapes line breaks: one resource a line
            if (!body.isEmpty() && !body.endsWith("\n")) fail(job, "a file does not end with a newline: " + type);
            if (lines.size() != file.path("count").asLong()) {
                fail(job, type + " file has " + lines.size() + " lines, the manifest says " + file.path("count"));
            }
            Set<String> ofType = ids.computeIfAbsent(type, t -> new TreeSet<>());
            for (String line : lines) {
                JsonNode resource = JSON.readTree(line);
                if (!resource.path("resourceType").asText().equals(type)) {
                    fail(job, "a " + resource.path("resourceType").asText() + " in a " + type + " file");
                }
                if (!ofType.add(resource.path("id").asText())) {
                    fail(job, "exported twice: " + type + "/" + resource.path("id").asText());
                }
            }
        }
        if (!manifest.path("error").isEmpty()) {
            fail(job, "unexpected error files: " + manifest.path("error"));
        }
        int listed = manifest.path("output").size() + manifest.path("error").size();
        Path folder = config.dataDir().resolve("export").resolve(job.id);
        long onDisk;
        try (Stream<Path> files = Files.isDirectory(folder) ? Files.list(folder) : Stream.empty()) {
            onDisk = files.count();
        }
        if (onDisk != listed) fail(job, onDisk + " files on disk, the manifest lists " + listed);
        return ids;
    }

    /** A cancelled job's folder goes too: the server that starts after the kill deletes it. */
    private void checkCancelledFoldersGo() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        for (String id : cancelledJobs) {
            Path folder = config.dataDir().resolve("export").resolve(id);
            while (Files.exists(folder) && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            if (Files.exists(folder)) failures.add("job " + id + ": cancelled, but its files are still on disk");
        }
    }

    // ---------------------------------------------------------------- helpers

    private void fail(Job job, String message) {
        String failure = "job " + job.id + ": " + message;
        failures.add(failure);
        config.out().println("FAILURE " + failure);
    }

    private static String jobId(HttpResponse<byte[]> accepted) {
        String location = accepted.headers().firstValue("Content-Location").orElseThrow();
        return location.substring(location.indexOf("_jobId=") + "_jobId=".length());
    }

    private static boolean isOutcome(byte[] body) {
        try {
            return JSON.readTree(body).path("resourceType").asText().equals("OperationOutcome");
        } catch (IOException e) {
            return false;
        }
    }

    private static String text(HttpResponse<byte[]> response) {
        String body = new String(response.body(), StandardCharsets.UTF_8);
        return response.statusCode() + " " + (body.length() > 500 ? body.substring(0, 500) + "..." : body);
    }

    private static String difference(Map<String, Set<String>> expected, Map<String, Set<String>> actual) {
        Map<String, String> diff = new TreeMap<>();
        Set<String> types = new TreeSet<>(expected.keySet());
        types.addAll(actual.keySet());
        for (String type : types) {
            Set<String> missing = new TreeSet<>(expected.getOrDefault(type, Set.of()));
            missing.removeAll(actual.getOrDefault(type, Set.of()));
            Set<String> extra = new TreeSet<>(actual.getOrDefault(type, Set.of()));
            extra.removeAll(expected.getOrDefault(type, Set.of()));
            if (!missing.isEmpty() || !extra.isEmpty()) {
                diff.put(type, missing.size() + " missing " + first(missing) + ", " + extra.size() + " extra "
                        + first(extra));
            }
        }
        return diff.toString();
    }

    private static List<String> first(Set<String> ids) {
        return ids.stream().limit(3).toList();
    }

    /**
     * {@code ExportChaos --jar JAR --data-dir DIR --client-id ID --key FILE [--minutes 5] [--kills 1000]
     * [--seed N] [--patients 300] [--heap -Xmx512m]}: prints a line per kill, the kills by phase, the
     * jobs by ending, every failure, and the summary line; exits 1 on any failure.
     */
    public static void main(String[] args) throws Exception {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            options.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> launcher = List.of(java, options.getOrDefault("heap", "-Xmx512m"), "-jar", options.get("jar"));
        // Small files, each forced to disk, keep a type long enough under way to be killed in its middle.
        List<String> serverOptions = List.of("--demo", "--demo-patients", options.getOrDefault("patients", "300"),
                "--export-file-max-resources", "50", "--export-retention", "2m");
        long seed = Long.parseLong(options.getOrDefault("seed", Long.toString(System.currentTimeMillis())));
        Config config = new Config(launcher, serverOptions, Path.of(options.get("data-dir")).toAbsolutePath(),
                options.get("client-id"), Path.of(options.get("key")), seed,
                Duration.ofSeconds((long) (Double.parseDouble(options.getOrDefault("minutes", "5")) * 60)),
                Integer.parseInt(options.getOrDefault("kills", "1000000")), Duration.ofSeconds(120), true, System.out);
        System.out.println("seed " + seed + "; server log: " + config.dataDir() + ".log");
        Report report = new ExportChaos(config).run();
        for (Phase phase : Phase.values()) {
            System.out.printf("  kills %-22s %d%s%n", phase.label, report.killsByPhase().getOrDefault(phase, 0),
                    report.lateKills().containsKey(phase) ? " (" + report.lateKills().get(phase)
                            + " after the job had completed)" : "");
        }
        System.out.println("  jobs by ending: " + report.endings());
        report.failures().forEach(failure -> System.out.println("  FAILURE " + failure));
        System.out.println(report.summary());
        System.exit(report.failures().isEmpty() ? 0 : 1);
    }
}
