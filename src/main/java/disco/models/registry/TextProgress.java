package disco.models.registry;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress on stderr. On a terminal: one bar redrawn in place ({@code \r}), at most 10 times a second. Otherwise
 * (CI logs, pipes): one line per tenth of the file (or per 256 MiB when the size is unknown), so logs stay short.
 */
public final class TextProgress implements DownloadProgress {
    private static final long UNKNOWN_STEP = 256L << 20;
    private static final int BAR = 30;

    private final PrintWriter out;
    private final boolean terminal;
    private final LongSupplier clock;
    private String name;
    private long total;
    private long lastMark;
    private long lastDraw;

    public TextProgress(PrintWriter out, boolean terminal) {
        this(out, terminal, System::nanoTime);
    }

    TextProgress(PrintWriter out, boolean terminal, LongSupplier nanoClock) {
        this.out = out;
        this.terminal = terminal;
        this.clock = nanoClock;
    }

    /** Progress for this process's stderr: a bar when it is a terminal, lines otherwise. */
    public static TextProgress stderr() {
        return new TextProgress(new PrintWriter(System.err, true), System.console() != null);
    }

    @Override
    public synchronized void start(String name, String url, long done, long total) {
        this.name = name;
        this.total = total;
        this.lastMark = mark(done);
        this.lastDraw = Long.MIN_VALUE;
        String from = done > 0 ? " (resuming at " + mib(done) + ")" : "";
        out.println(name + ": downloading " + url + (total >= 0 ? " [" + mib(total) + "]" : "") + from);
        if (terminal) draw(done);
    }

    private long mark(long done) {
        return total > 0 ? done * 10 / total : done / UNKNOWN_STEP;
    }

    @Override
    public synchronized void advance(long done) {
        if (terminal) {
            long now = clock.getAsLong();
            if (lastDraw == Long.MIN_VALUE || now - lastDraw >= 100_000_000L) {
                draw(done);
                lastDraw = now;
            }
        } else {
            long m = mark(done);
            if (m > lastMark) {
                lastMark = m;
                out.println(line(done));
            }
        }
    }

    @Override
    public synchronized void end(long done) {
        if (terminal) {
            draw(done);
            out.println();
        }
    }

    private void draw(long done) {
        String bar;
        if (total > 0) {
            int fill = (int) Math.min(BAR, done * BAR / total);
            bar = "[" + "#".repeat(fill) + " ".repeat(BAR - fill) + "] ";
        } else {
            bar = "";
        }
        out.print("\r" + bar + line(done));
        out.flush();
    }

    private String line(long done) {
        if (total > 0) {
            return String.format(Locale.ROOT, "%s: %3d%% %s / %s", name, done * 100 / total, mib(done), mib(total));
        }
        return name + ": " + mib(done);
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
}
