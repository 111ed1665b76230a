package dev.bulkfhir.server.ops;

import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ContextHandlerCollection;

import javax.sql.DataSource;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Metrics, health probes and the request log around the standalone server's Jetty: one Prometheus
 * registry (JVM, connection pool, HTTP, and what the plugin reports), {@code /metrics} and
 * {@code /health/*} outside the FHIR base, on the main port or a port of their own.
 */
public final class Ops implements AutoCloseable {

    /** The Jetty connector names that route requests to the FHIR or the ops context. */
    public static final String MAIN_CONNECTOR = "main";
    static final String OPS_CONNECTOR = "ops";

    private final OpsSettings settings;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private Readiness readiness;
    private ServerConnector opsConnector;

    public Ops(OpsSettings settings) {
        this.settings = settings;
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    /** Where the plugin and the server report: give it to the plugin builder. */
    public MeterRegistry registry() {
        return registry;
    }

    /**
     * Installs into {@code jetty} (not yet started, its handler set to the FHIR context): the
     * request log, request ids, the connection pool's metrics and the ops endpoints.
     */
    public void install(Server jetty, ServletContextHandler fhir, String basePath, Set<String> resourceTypes,
            DataSource dataSource, Supplier<Instant> exportWorkersLastSeen) {
        if (dataSource instanceof HikariDataSource hikari) {
            hikari.setMetricRegistry(registry);
        }
        readiness = new Readiness(dataSource, exportWorkersLastSeen);
        ServletHolder endpoints = new ServletHolder("ops", new OpsServlet(registry, readiness));
        Handler served = fhir;
        if (settings.opsPort() == null) {
            addEndpoints(fhir, endpoints);
        } else {
            opsConnector = new ServerConnector(jetty);
            opsConnector.setName(OPS_CONNECTOR);
            opsConnector.setHost(((ServerConnector) jetty.getConnectors()[0]).getHost());
            opsConnector.setPort(settings.opsPort());
            jetty.addConnector(opsConnector);
            ServletContextHandler ops = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
            ops.setContextPath("/");
            ops.setVirtualHosts(List.of("@" + OPS_CONNECTOR));
            addEndpoints(ops, endpoints);
            fhir.setVirtualHosts(List.of("@" + MAIN_CONNECTOR));
            served = new ContextHandlerCollection(fhir, ops);
        }
        jetty.setHandler(new RequestTracking(served));
        jetty.setRequestLog(new RequestRecorder(registry, new RouteTemplates(basePath, resourceTypes),
                settings.requestLog()));
    }

    private static void addEndpoints(ServletContextHandler context, ServletHolder endpoints) {
        context.addServlet(endpoints, "/metrics");
        context.addServlet(endpoints, "/health/live");
        context.addServlet(endpoints, "/health/ready");
    }

    /** The ops port once started; -1 when the ops endpoints share the main port. */
    public int opsPort() {
        return opsConnector == null ? -1 : opsConnector.getLocalPort();
    }

    @Override
    public void close() {
        BufferedConsoleAppender.flushAll(); // the server has stopped: the last request lines are out
        if (readiness != null) readiness.close();
        gc.close();
        registry.close();
    }
}
