package disco.util;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writes files under a temporary name beside the target, then renames: nothing half-written is left behind. The temp
 * files being written are also removed when the JVM exits in the middle (a second Ctrl-C exits at once, during a
 * write perhaps); after that no new one is started.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Temp files being written now; null once the JVM is shutting down (then no write starts). */
    private static java.util.Set<Path> inFlight = new java.util.HashSet<>();

    static {
        try {
            Runtime.getRuntime().addShutdownHook(new Thread(AtomicFiles::removeInFlight, "disco-temp-cleanup"));
        } catch (IllegalStateException | SecurityException ignored) {
            // already shutting down: nothing to clean up later
        }
    }

    /** Deletes the temp files being written and refuses new ones (the shutdown hook; callable from tests). */
    static synchronized void removeInFlight() {
        if (inFlight == null) return;
        for (Path p : inFlight) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort while exiting
            }
        }
        inFlight = null;
    }

    private static synchronized Path register(Path dir, Path target) throws IOException {
        if (inFlight == null) throw new IOException("the JVM is exiting: not starting to write " + target);
        Path tmp = createTemp(dir, target);
        inFlight.add(tmp);
        return tmp;
    }

    private static synchronized void unregister(Path tmp) {
        if (inFlight != null) inFlight.remove(tmp);
    }

    @FunctionalInterface
    public interface Writer {
        void write(OutputStream out) throws IOException;
    }

    public static void write(Path target, Writer writer) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = register(dir, target);
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                writer.write(out);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } finally {
                unregister(tmp);
            }
        }
    }

    /** A temp file beside the target; on POSIX file systems readable by all (0644 less the umask), as a plain
     *  file created by the user would be, not createTempFile's private 0600. */
    private static Path createTemp(Path dir, Path target) throws IOException {
        String prefix = "." + target.getFileName() + ".";
        if (dir != null && dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return Files.createTempFile(dir, prefix, ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")));
        }
        return Files.createTempFile(dir, prefix, ".tmp");
    }

    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(StandardCharsets.UTF_8));
    }
}
