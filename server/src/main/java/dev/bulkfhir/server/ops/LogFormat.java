package dev.bulkfhir.server.ops;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import org.slf4j.LoggerFactory;

import java.net.URL;

/** How the standalone server writes its log: plain lines ({@code logback.xml}) or JSON lines ({@code logback-json.xml}). */
public enum LogFormat {
    PLAIN,
    JSON;

    /** Switches logback to this format's configuration, unless the user gave one of their own. */
    public void apply() {
        if (this == PLAIN || System.getProperty("logback.configurationFile") != null) return;
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) return;
        URL configuration = LogFormat.class.getResource("/logback-json.xml");
        context.reset();
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        try {
            configurator.doConfigure(configuration);
        } catch (JoranException e) {
            throw new IllegalStateException("Cannot switch the log to JSON: " + e.getMessage(), e);
        }
    }
}
