package disco.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import static org.junit.jupiter.api.Assertions.*;

/** `disco bench kernels` on a tiny case (a smoke run, not a timing) and its bad input. */
class BenchKernelsCommandTest {
    private static int run(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        PrintStream o = System.out, e = System.err;
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            return Main.commandLine().execute(args);
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    @Test
    void printsOneRowPerImplementationAndStage() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int rc = run(out, err, "bench", "kernels", "--height", "24", "--width", "40", "--sizes", "16", "--reps", "1");
        assertEquals(0, rc, err.toString());
        String table = out.toString();
        assertTrue(table.contains("cutouts 16x16"), table);
        assertTrue(table.contains("grad stage 1x3x24x40"), table);
        assertEquals(4, table.lines().filter(l -> l.contains("native") || l.contains("libtorch (DD way)")).count(), table);
    }

    @Test
    void badDeviceIsBadInput() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(ExitCodes.BAD_INPUT, run(out, err, "bench", "kernels", "--device", "gpu"));
        assertTrue(err.toString().contains("--device: expected cpu or cuda, got gpu"), err.toString());
        assertEquals(ExitCodes.BAD_INPUT, run(out, err, "bench", "kernels", "--reps", "0"));
    }
}
