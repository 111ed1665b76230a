package dev.bulkfhir.server.load;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * On a terminal, one line redrawn in place with {@code \r} a few times a second: a bar over the
 * bytes read, resources stored, resources per second, rejections, elapsed time and the time left
 * (from the share of bytes read so far). Elsewhere (a log file, a pipe), a plain line with the same
 * figures every ten seconds so that long loads still show they are alive.
 */
final class Progress implements AutoCloseable {

    private static final int BAR = 24;

    private final PrintStream out;
    private final boolean terminal;
    private final long totalBytes;
    private final LongSupplier bytesRead;
    private final LongSupplier loaded;
    private final LongSupplier rejected;
    private final long startNanos = System.nanoTime();
    private ScheduledExecutorService timer;
    private int lastWidth;

    Progress(PrintStream out, boolean terminal, long totalBytes, LongSupplier bytesRead, LongSupplier loaded,
            LongSupplier rejected) {
        this.out = out;
        this.terminal = terminal;
        this.totalBytes = totalBytes;
        this.bytesRead = bytesRead;
        this.loaded = loaded;
        this.rejected = rejected;
    }

    void start() {
        if (out == null) {
            return;
        }
        timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "load-progress");
            thread.setDaemon(true);
            return thread;
        });
        long period = terminal ? 250 : 10_000;
        timer.scheduleAtFixedRate(this::draw, period, period, TimeUnit.MILLISECONDS);
    }

    private synchronized void draw() {
        if (timer == null) {
            return;
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        long stored = loaded.getAsLong();
        long bad = rejected.getAsLong();
        double rate = seconds > 0 ? stored / seconds : 0;
        double fraction = totalBytes <= 0 ? 0 : Math.min(1.0, bytesRead.getAsLong() / (double) totalBytes);
        String eta = fraction <= 0 ? "?" : clock(seconds * (1 - fraction) / fraction);
        if (!terminal) {
            out.printf(Locale.ROOT, "Loading: %d%%, %,d resources (%,.0f/s), %,d rejected, %s, ETA %s%n",
                    Math.round(fraction * 100), stored, rate, bad, clock(seconds), eta);
            return;
        }
        int filled = (int) Math.round(fraction * BAR);
        String line = String.format(Locale.ROOT, "[%s%s] %3d%%  %,d resources  %,.0f/s  %,d rejected  %s  ETA %s",
                "=".repeat(filled), " ".repeat(BAR - filled), Math.round(fraction * 100), stored, rate, bad,
                clock(seconds), eta);
        int width = line.length();
        out.print("\r" + line + " ".repeat(Math.max(0, lastWidth - width)));
        out.flush();
        lastWidth = width;
    }

    private static String clock(double seconds) {
        long s = (long) seconds;
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    @Override
    public synchronized void close() {
        if (timer == null) {
            return;
        }
        timer.shutdownNow();
        if (terminal && lastWidth > 0) {
            out.print("\r" + " ".repeat(lastWidth) + "\r");
            out.flush();
        }
        timer = null;
    }
}
