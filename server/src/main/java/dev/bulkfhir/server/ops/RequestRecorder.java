package dev.bulkfhir.server.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.RequestLog;
import org.eclipse.jetty.server.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Jetty's request log, called once a response is complete: records the request's latency and
 * response bytes by route, export file download bytes, and writes one line per request on the
 * logger {@value #LOGGER} (buffered in our logback configuration: {@link BufferedConsoleAppender}), when that is
 * on.
 */
final class RequestRecorder implements RequestLog {

    static final String LOGGER = "dev.bulkfhir.request";
    private static final Logger log = LoggerFactory.getLogger(LOGGER);
    /** Latency buckets: a few, from a cached Binary read to a large download. */
    private static final Duration[] BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10),
            Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofSeconds(30)};

    private final MeterRegistry registry;
    private final RouteTemplates routes;
    private final boolean logRequests;
    private final Counter downloadBytes;
    /** The meters of each method, route and status, looked up once: no meter builder per request. */
    private final Map<Series, Meters> series = new ConcurrentHashMap<>();

    private record Series(String method, String route, int status) {}

    private record Meters(Timer latency, Counter bytes) {}

    RequestRecorder(MeterRegistry registry, RouteTemplates routes, boolean logRequests) {
        this.registry = registry;
        this.routes = routes;
        this.logRequests = logRequests;
        this.downloadBytes = Counter.builder("bulkfhir.export.download.bytes").baseUnit("bytes")
                .description("Bytes of export files sent to clients").register(registry);
    }

    @Override
    public void log(Request request, Response response) {
        long nanos = System.nanoTime() - request.getBeginNanoTime();
        String method = RouteTemplates.method(request.getMethod());
        RouteTemplates.Route route = routes.route(request.getHttpURI().getDecodedPath());
        int status = response.getStatus();
        long bytes = Response.getContentBytesWritten(response);
        Meters meters = series.computeIfAbsent(new Series(method, route.template(), status), this::meters);
        meters.latency().record(nanos, TimeUnit.NANOSECONDS);
        meters.bytes().increment(bytes);
        if (route.exportFile() && (status == 200 || status == 206)) {
            downloadBytes.increment(bytes);
        }
        if (logRequests && log.isInfoEnabled()) {
            RequestFacts facts = (RequestFacts) request.getAttribute(RequestFacts.ATTRIBUTE);
            String requestId = facts == null ? "-" : facts.requestId;
            String client = facts == null || facts.clientId == null ? "-" : facts.clientId;
            long tenths = nanos / 100_000; // String.format was a tenth of a Binary read's time
            String millis = tenths / 10 + "." + tenths % 10;
            log.atInfo()
                    .setMessage(method + " " + route.template() + " " + status + " " + millis + "ms " + bytes + "B client="
                            + client + " id=" + requestId)
                    .addKeyValue("method", method)
                    .addKeyValue("route", route.template())
                    .addKeyValue("status", status)
                    .addKeyValue("durationMs", millis)
                    .addKeyValue("bytes", bytes)
                    .addKeyValue("client", client)
                    .addKeyValue("requestId", requestId)
                    .log();
        }
    }

    private Meters meters(Series key) {
        Timer latency = Timer.builder("http.server.requests")
                .tags("method", key.method(), "route", key.route(), "status", Integer.toString(key.status()))
                .serviceLevelObjectives(BUCKETS)
                .description("HTTP requests by method, route template and status").register(registry);
        Counter bytes = Counter.builder("http.server.response.bytes").baseUnit("bytes").tags("route", key.route())
                .description("Response body bytes by route template").register(registry);
        return new Meters(latency, bytes);
    }
}
