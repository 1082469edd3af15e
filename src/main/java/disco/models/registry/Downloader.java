package disco.models.registry;

import disco.util.ExitCodes;
import disco.util.DiscoException;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads a registry file: into {@code <file>.part} beside the target, resuming an existing {@code .part} with an
 * HTTP {@code Range} request (also after a connection drops mid-transfer), checking the size and sha256 while the
 * bytes stream in, and renaming to the final name only when they match. A URL that fails (HTTP error, connection
 * error after retries, wrong size or hash) hands over to the next one; when every URL fails the error names each.
 */
public final class Downloader {
    /** Consecutive attempts on one URL that bring no new bytes before giving up on it. */
    static final int ATTEMPTS_WITHOUT_PROGRESS = 3;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Pattern CONTENT_RANGE_UNSATISFIED = Pattern.compile("bytes\\s+\\*/(\\d+)");

    /** A transfer that brings no byte for this long is dropped and resumed (HttpClient has no read timeout). */
    public static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofSeconds(60);

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "disco-download-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final HttpClient client;
    private final DownloadProgress progress;
    private final Consumer<String> log;
    private final Duration stallTimeout;

    public Downloader(HttpClient client, DownloadProgress progress, Consumer<String> log) {
        this(client, progress, log, DEFAULT_STALL_TIMEOUT);
    }

    public Downloader(HttpClient client, DownloadProgress progress, Consumer<String> log, Duration stallTimeout) {
        this.client = client;
        this.progress = progress;
        this.log = log;
        this.stallTimeout = stallTimeout;
    }

    /** A client that follows redirects (Hugging Face and GitHub redirect to their CDNs). */
    public static HttpClient defaultClient() {
        return HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(30))
                .build();
    }

    /** What landed: the file, its sha256, and the URL it came from. */
    public record Downloaded(Path file, String sha256, String url) {}

    /** The {@code .part} file used for {@code target}. */
    public static Path partFile(Path target) {
        return target.resolveSibling(target.getFileName() + ".part");
    }

    /**
     * Downloads {@code e} to {@code target} (replacing what is there only once the new bytes are verified).
     *
     * @throws DiscoException exit code {@link ExitCodes#IO_ERROR} when every URL failed; bad input for a custom model
     */
    public Downloaded download(ModelEntry e, Path target) {
        if (e.urls().isEmpty()) {
            throw DiscoException.badInput(e.name() + ": no download URL (a custom model is used from its path)");
        }
        Path part = partFile(target);
        try {
            Files.createDirectories(target.toAbsolutePath().getParent());
        } catch (IOException ex) {
            throw new DiscoException(ExitCodes.IO_ERROR, target.getParent() + ": cannot create the model directory (" + ex.getMessage() + ")", ex);
        }
        // one downloader per file: a second `disco models fetch` of the same file stops instead of mixing bytes
        Path lockFile = target.resolveSibling("." + target.getFileName() + ".lock");
        // The lock file exists only while a download holds it: it is removed (still locked) on every way out, so a
        // failed fetch leaves nothing behind; a lock whose file was removed meanwhile is another's finished one.
        try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            Object opened = fileKey(lockFile);
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException ex) {
                lock = null;
            }
            if (lock != null && opened != null && !opened.equals(fileKey(lockFile))) {
                lock.release();
                lock = null;
            }
            if (lock == null) {
                throw new DiscoException(ExitCodes.IO_ERROR, e.name() + ": another process is downloading " + target + " (lock " + lockFile + ")");
            }
            try {
                return downloadLocked(e, target, part);
            } finally {
                try {
                    Files.deleteIfExists(lockFile);
                } finally {
                    lock.release();
                }
            }
        } catch (IOException ex) {
            throw new DiscoException(ExitCodes.IO_ERROR, lockFile + ": cannot lock (" + ex.getMessage() + ")", ex);
        }
    }

    /** The file's identity (inode), or null when it is gone or the file system has none. */
    private static Object fileKey(Path f) {
        try {
            return Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (IOException ex) {
            return null;
        }
    }

    private Downloaded downloadLocked(ModelEntry e, Path target, Path part) {
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < e.urls().size(); i++) {
            String url = e.urls().get(i).url();
            String[] sha = new String[1];
            String why;
            try {
                why = fromUrl(e, url, part, target, sha);
            } catch (IOException ex) {
                // local file system trouble: no other URL will fix it
                throw new DiscoException(ExitCodes.IO_ERROR, part + ": " + ex.getMessage(), ex);
            }
            if (why == null) return new Downloaded(target, sha[0], url);
            failures.add(url + ": " + why);
            boolean more = i + 1 < e.urls().size();
            log.accept(e.name() + ": " + url + ": " + why + (more ? "; trying the next URL" : ""));
        }
        throw new DiscoException(ExitCodes.IO_ERROR, e.name() + ": download failed from every URL (" + String.join("; ", failures) + ")");
    }

    /** Tries one URL; returns null on success (sha256 in {@code shaOut[0]}) or why it failed. Throws on local I/O errors. */
    private String fromUrl(ModelEntry e, String url, Path part, Path target, String[] shaOut) throws IOException {
        boolean usedOldBytes = false;
        boolean startedOver = false;
        int fruitless = 0;
        while (true) {
            long have = Files.isRegularFile(part) ? Files.size(part) : 0;
            if (e.size() != null && have > e.size()) {
                Files.delete(part);
                have = 0;
            }
            usedOldBytes |= have > 0;
            MessageDigest md = Sha256.digest();
            long[] done = {have};
            Outcome o;
            try {
                o = transfer(e, url, part, have, md, done);
            } catch (RemoteIOException ex) {
                boolean progressed = done[0] > have;
                fruitless = progressed ? 0 : fruitless + 1;
                if (fruitless >= ATTEMPTS_WITHOUT_PROGRESS) return "connection failed (" + ex.getMessage() + ")";
                if (done[0] > 0) {
                    log.accept(e.name() + ": connection lost at " + TextProgress.mib(done[0]) + " (" + ex.getMessage() + "); resuming");
                } else {
                    log.accept(e.name() + ": " + ex.getMessage() + "; retrying");
                }
                continue;
            }
            if (o.failure != null) {
                if (o.deletePart) Files.deleteIfExists(part);
                return o.failure;
            }
            if (o.restart) {
                Files.deleteIfExists(part);
                if (startedOver) return "the server's byte ranges do not line up";
                startedOver = true;
                continue;
            }
            long size = Files.size(part);
            if (e.size() != null && size != e.size()) {
                Files.deleteIfExists(part);
                return "size mismatch (got " + size + " bytes, expected " + e.size() + ")";
            }
            String sha = o.sha256;
            if (!e.hashMatches(sha)) {
                Files.deleteIfExists(part);
                if (usedOldBytes && !startedOver) {
                    log.accept(e.name() + ": sha256 mismatch after resuming a partial file; downloading again from the start");
                    startedOver = true;
                    usedOldBytes = false;
                    continue;
                }
                return "sha256 mismatch (got " + sha + ", expected " + e.expectedHash() + ")";
            }
            try {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException ex) {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
            }
            shaOut[0] = sha;
            return null;
        }
    }

    /** A connection-level failure talking to the server (as opposed to local disk errors). */
    private static final class RemoteIOException extends Exception {
        RemoteIOException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static final class Outcome {
        String sha256;
        String failure;
        boolean deletePart;
        boolean restart;

        static Outcome done(String sha) { Outcome o = new Outcome(); o.sha256 = sha; return o; }
        static Outcome fail(String why, boolean deletePart) { Outcome o = new Outcome(); o.failure = why; o.deletePart = deletePart; return o; }
        static Outcome restartFromZero() { Outcome o = new Outcome(); o.restart = true; return o; }
    }

    private Outcome transfer(ModelEntry e, String url, Path part, long have, MessageDigest md, long[] done)
            throws IOException, RemoteIOException {
        HttpRequest.Builder rb;
        try {
            rb = HttpRequest.newBuilder(URI.create(url));
        } catch (IllegalArgumentException ex) {
            return Outcome.fail("not a valid URL (" + ex.getMessage() + ")", false);
        }
        rb.GET().timeout(stallTimeout).header("User-Agent", "disco/0.1 (model fetch)");
        if (have > 0) rb.header("Range", "bytes=" + have + "-");
        HttpResponse<InputStream> r;
        try {
            r = client.send(rb.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new DiscoException(ExitCodes.INTERRUPTED, e.name() + ": download interrupted", ex);
        } catch (IOException ex) {
            throw new RemoteIOException(describe(ex), ex);
        }
        try (InputStream body = r.body()) {
            int code = r.statusCode();
            long contentLength = r.headers().firstValueAsLong("content-length").orElse(-1);
            long start;
            long total;
            if (code == 206) {
                Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("content-range").orElse(""));
                if (!m.find() || Long.parseLong(m.group(1)) != have) {
                    log.accept(e.name() + ": the server answered the range request from another offset; starting over");
                    return Outcome.restartFromZero();
                }
                start = have;
                total = m.group(3).equals("*") ? (contentLength >= 0 ? have + contentLength : -1) : Long.parseLong(m.group(3));
            } else if (code == 200) {
                if (have > 0) log.accept(e.name() + ": the server ignored the range request; starting over");
                start = 0;
                total = contentLength;
            } else if (code == 416 && have > 0) {
                Matcher m = CONTENT_RANGE_UNSATISFIED.matcher(r.headers().firstValue("content-range").orElse(""));
                if (m.find() && Long.parseLong(m.group(1)) == have) {
                    Sha256.update(md, part, have);   // the .part already holds the whole file
                    return Outcome.done(Sha256.hex(md));
                }
                return Outcome.restartFromZero();
            } else {
                return Outcome.fail("HTTP " + code, false);
            }
            if (e.size() != null && total >= 0 && total != e.size()) {
                return Outcome.fail("the server offers " + total + " bytes, expected " + e.size(), start == 0);
            }
            if (start > 0) Sha256.update(md, part, start);
            done[0] = start;
            progress.start(e.name(), url, start, total);
            // the watchdog closes the body when no byte arrived for stallTimeout; the blocked read then ends
            AtomicLong lastByte = new AtomicLong(System.nanoTime());
            AtomicBoolean stalled = new AtomicBoolean();
            long period = Math.max(10, stallTimeout.toMillis() / 4);
            ScheduledFuture<?> watch = WATCHDOG.scheduleAtFixedRate(() -> {
                if (System.nanoTime() - lastByte.get() > stallTimeout.toNanos() && stalled.compareAndSet(false, true)) {
                    try {
                        body.close();
                    } catch (IOException ignored) {
                        // the reader sees the stream end or fail either way
                    }
                }
            }, period, period, TimeUnit.MILLISECONDS);
            try (FileChannel ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    start == 0 ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND)) {
                byte[] buf = new byte[1 << 20];
                while (true) {
                    int n;
                    try {
                        n = body.read(buf);
                    } catch (IOException ex) {
                        if (stalled.get()) throw new RemoteIOException("no data for " + stallTimeout.toMillis() / 1000.0 + " s", ex);
                        throw new RemoteIOException(describe(ex), ex);
                    }
                    if (stalled.get()) throw new RemoteIOException("no data for " + stallTimeout.toMillis() / 1000.0 + " s", null);
                    if (n < 0) break;
                    lastByte.set(System.nanoTime());
                    ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                    while (bb.hasRemaining()) ch.write(bb);
                    md.update(buf, 0, n);
                    done[0] += n;
                    if (total >= 0 && done[0] > total) return Outcome.fail("the server sent more than the " + total + " bytes it announced", true);
                    progress.advance(done[0]);
                }
                ch.force(false);
            } finally {
                watch.cancel(false);
                progress.end(done[0]);
            }
            if (total >= 0 && done[0] < total) {
                throw new RemoteIOException("connection closed after " + done[0] + " of " + total + " bytes", null);
            }
            return Outcome.done(Sha256.hex(md));
        }
    }

    private static String describe(IOException ex) {
        String m = ex.getMessage();
        return ex.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m);
    }
}
