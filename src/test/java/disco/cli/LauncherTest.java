package disco.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The {@code ./disco} launcher's own checks, which run before it builds or starts anything. */
class LauncherTest {
    private static String[] run(String var, String value) throws IOException, InterruptedException {
        Path launcher = Path.of("disco").toAbsolutePath();
        assertTrue(Files.isRegularFile(launcher), launcher + ": expected the launcher");
        ProcessBuilder pb = new ProcessBuilder("bash", launcher.toString(), "doctor").redirectErrorStream(true);
        pb.environment().put(var, value);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the launcher did not stop");
        return new String[] {String.valueOf(p.exitValue()), out};
    }

    @Test
    void aBadAllocatorChoiceIsOneLineAndExitTwoBeforeAnyBuild() throws Exception {
        String[] r = run("DISCO_MALLOC", "tcmalloc");
        assertEquals("2", r[0], r[1]);
        assertEquals("disco: DISCO_MALLOC: expected auto, jemalloc or glibc, found 'tcmalloc'", r[1].strip());
        assertFalse(r[1].contains("building"), r[1]);
    }

    @Test
    void aBadProfileIsOneLineAndExitTwo() throws Exception {
        String[] r = run("DISCO_PROFILE", "tpu");
        assertEquals("2", r[0], r[1]);
        assertTrue(r[1].strip().startsWith("disco: DISCO_PROFILE: expected default"), r[1]);
    }
}
