package dev.bulkfhir.server.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.RequestLog;
import org.eclipse.jetty.server.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Jetty's request log, called once a response is complete: records the request's latency and
 * response bytes by route, export file download bytes, and writes one line per request on the
 * logger {@value #LOGGER} (asynchronous in our logback configuration), when that is on.
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
        Tags tags = Tags.of("method", method, "route", route.template(), "status", Integer.toString(status));
        Timer.builder("http.server.requests").tags(tags).serviceLevelObjectives(BUCKETS)
                .description("HTTP requests by method, route template and status").register(registry)
                .record(nanos, TimeUnit.NANOSECONDS);
        Counter.builder("http.server.response.bytes").baseUnit("bytes").tags("route", route.template())
                .description("Response body bytes by route template").register(registry).increment(bytes);
        if (route.exportFile() && (status == 200 || status == 206)) {
            downloadBytes.increment(bytes);
        }
        if (logRequests && log.isInfoEnabled()) {
            RequestFacts facts = (RequestFacts) request.getAttribute(RequestFacts.ATTRIBUTE);
            String requestId = facts == null ? "-" : facts.requestId;
            String client = facts == null || facts.clientId == null ? "-" : facts.clientId;
            double millis = nanos / 1e6;
            log.atInfo()
                    .setMessage(() -> String.format(Locale.ROOT, "%s %s %d %.1fms %dB client=%s id=%s", method,
                            route.template(), status, millis, bytes, client, requestId))
                    .addKeyValue("method", method)
                    .addKeyValue("route", route.template())
                    .addKeyValue("status", status)
                    .addKeyValue("durationMs", Math.round(millis * 10) / 10.0)
                    .addKeyValue("bytes", bytes)
                    .addKeyValue("client", client)
                    .addKeyValue("requestId", requestId)
                    .log();
        }
    }
}
