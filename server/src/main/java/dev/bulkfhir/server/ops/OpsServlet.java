package dev.bulkfhir.server.ops;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * {@code /metrics} (Prometheus text) and the Kubernetes probes {@code /health/live} (the process
 * answers) and {@code /health/ready} (it can serve: see {@link Readiness}); 200 or 503 with a JSON body.
 */
final class OpsServlet extends HttpServlet {

    static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    private static final ObjectMapper JSON = new ObjectMapper().disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

    private final PrometheusMeterRegistry registry;
    private final Readiness readiness;

    OpsServlet(PrometheusMeterRegistry registry, Readiness readiness) {
        this.registry = registry;
        this.readiness = readiness;
    }

    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        response.setHeader("Cache-Control", "no-store");
        switch (request.getServletPath()) {
            case "/metrics" -> {
                response.setContentType(PROMETHEUS_TEXT);
                registry.scrape(response.getOutputStream());
            }
            case "/health/live" -> health(response, true, Map.of());
            case "/health/ready" -> {
                Map<String, Readiness.Check> checks = readiness.checks();
                health(response, checks.values().stream().allMatch(Readiness.Check::up), checks);
            }
            default -> response.sendError(404);
        }
    }

    private static void health(HttpServletResponse response, boolean up, Map<String, Readiness.Check> checks)
            throws IOException {
        response.setStatus(up ? 200 : 503);
        response.setContentType("application/json");
        response.setCharacterEncoding(StandardCharsets.UTF_8.name());
        JsonGenerator json = JSON.createGenerator(response.getOutputStream());
        json.writeStartObject();
        json.writeStringField("status", up ? "UP" : "DOWN");
        if (!checks.isEmpty()) {
            json.writeObjectFieldStart("checks");
            for (Map.Entry<String, Readiness.Check> check : checks.entrySet()) {
                json.writeObjectFieldStart(check.getKey());
                json.writeStringField("status", check.getValue().up() ? "UP" : "DOWN");
                json.writeStringField("detail", check.getValue().detail());
                json.writeEndObject();
            }
            json.writeEndObject();
        }
        json.writeEndObject();
        json.close();
    }
}
