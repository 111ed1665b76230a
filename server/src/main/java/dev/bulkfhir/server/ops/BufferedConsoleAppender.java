package dev.bulkfhir.server.ops;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.core.OutputStreamAppender;
import org.slf4j.LoggerFactory;

import java.io.BufferedOutputStream;
import java.io.IOException;

/**
 * Standard output for a line per request: lines gather in a buffer, written out whole when it fills,
 * at most {@link #setFlushMillis flushMillis} after they were logged, and when the server stops. A
 * console appender writes and flushes every line on its own, a system call per request; an
 * asynchronous one adds a thread hand-off per line and drops lines when it falls behind. Here no line
 * is dropped, and each is written whole (one longer than the buffer at once).
 */
public final class BufferedConsoleAppender<E> extends OutputStreamAppender<E> {

    private int bufferSize = 64 * 1024;
    private long flushMillis = 200;
    private Thread flusher;

    /** Bytes held before they are written (default 64 KiB). */
    public void setBufferSize(int bufferSize) {
        this.bufferSize = bufferSize;
    }

    /** The longest a line waits before it is written (default 200 ms). */
    public void setFlushMillis(long flushMillis) {
        this.flushMillis = flushMillis;
    }

    @Override
    public void start() {
        setImmediateFlush(false);
        // System.out itself, not its file descriptor: it goes wherever System.setOut sent it, and stays open.
        setOutputStream(new BufferedOutputStream(System.out, bufferSize) {
            @Override
            public void close() throws IOException {
                flush();
            }
        });
        super.start();
        flusher = new Thread(this::flushPeriodically, "log-flush-" + getName());
        flusher.setDaemon(true);
        flusher.start();
    }

    private void flushPeriodically() {
        while (isStarted()) {
            try {
                Thread.sleep(flushMillis);
            } catch (InterruptedException e) {
                return;
            }
            flush();
        }
    }

    /** Writes out what the buffer holds. */
    public void flush() {
        streamWriteLock.lock();
        try {
            if (getOutputStream() != null) {
                getOutputStream().flush();
            }
        } catch (IOException e) {
            addError("Cannot write the log to standard output", e);
        } finally {
            streamWriteLock.unlock();
        }
    }

    @Override
    public void stop() {
        if (flusher != null) {
            flusher.interrupt();
        }
        super.stop(); // flushes
    }

    /** Flushes every appender of this kind in logback's configuration: the last lines, before the program ends. */
    static void flushAll() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
            for (ch.qos.logback.classic.Logger logger : context.getLoggerList()) {
                logger.iteratorForAppenders().forEachRemaining(appender -> {
                    if (appender instanceof BufferedConsoleAppender<?> buffered) {
                        buffered.flush();
                    }
                });
            }
        }
    }
}
