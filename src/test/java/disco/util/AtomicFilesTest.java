package disco.util;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;

import static org.junit.jupiter.api.Assertions.*;

class AtomicFilesTest {
    @Test
    void writesAndLeavesNoTempBehind(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("sub/out.txt");
        AtomicFiles.writeString(f, "hello");
        assertEquals("hello", Files.readString(f));
        try (var s = Files.list(f.getParent())) {
            assertEquals(1, s.count());
        }
    }

    @Test
    void failedWriteKeepsTheOldFile(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("out.txt");
        AtomicFiles.writeString(f, "old");
        assertThrows(IOException.class, () -> AtomicFiles.write(f, out -> {
            out.write("partial".getBytes());
            throw new IOException("disk full");
        }));
        assertEquals("old", Files.readString(f));
        try (var s = Files.list(dir)) {
            assertEquals(1, s.count());
        }
    }

    @Test
    void filesAreReadableByOthers(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("image.png");
        AtomicFiles.writeBytes(f, new byte[] {1, 2, 3});
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            assertTrue(Files.getPosixFilePermissions(f).contains(PosixFilePermission.OWNER_READ));
            assertTrue(Files.getPosixFilePermissions(f).contains(PosixFilePermission.OTHERS_READ));
        }
    }

    /** Run in a child JVM: starts writing {@code args[0]} and exits (as a second Ctrl-C does) in the middle. */
    public static final class ExitMidWrite {
        public static void main(String[] args) throws IOException {
            AtomicFiles.write(Path.of(args[0]), out -> {
                out.write("half".getBytes());
                out.flush();
                System.exit(130);
            });
        }
    }

    @Test
    void anExitDuringAWriteLeavesNoTempFile(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("progress.png");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), ExitMidWrite.class.getName(), f.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertEquals(130, p.waitFor(), output);
        assertEquals("", output, "nothing printed (no exception from a shutdown hook)");
        try (var s = Files.list(dir)) {
            assertEquals(java.util.List.of(), s.map(x -> x.getFileName().toString()).toList(), "no temp file, no half file");
        }
    }

    @Test
    void imageIoWritesNoCacheFilesOutsideTheRun() throws ClassNotFoundException {
        Class.forName("disco.run.Png", true, getClass().getClassLoader()); // its initialiser turns the disk cache off
        assertFalse(javax.imageio.ImageIO.getUseCache());
    }
}
