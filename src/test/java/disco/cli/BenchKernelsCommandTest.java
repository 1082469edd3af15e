package disco.cli;

import disco.util.ExitCodes;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.*;

/** `disco bench kernels` on a tiny case (a smoke run, not a timing) and its bad input. */
class BenchKernelsCommandTest {
    private final CliRun cli = new CliRun();

    @Test
    void printsOneRowPerImplementationAndStage() {
        // through the command line's writers only: the table and the progress lines do not go to System.out/err
        CliRun.Result r = CliRun.execThroughWriters("bench", "kernels", "--height", "24", "--width", "40", "--sizes", "16",
                "--reps", "1");
        assertEquals(0, r.code(), r.stderr());
        assertTrue(r.stderr().contains("bench: gradient stage"), r.stderr());
        String table = r.stdout();
        assertTrue(table.contains("cutouts 16x16"), table);
        assertTrue(table.contains("grad stage 1x3x24x40"), table);
        assertEquals(4, table.lines().filter(l -> l.contains("native") || l.contains("libtorch (DD way)")).count(), table);
    }

    @Test
    void badDeviceIsBadInput() {
        assertEquals(ExitCodes.BAD_INPUT, cli.run("bench", "kernels", "--device", "gpu"));
        assertTrue(cli.stderr().contains("--device: expected cpu or cuda, found 'gpu'"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("bench", "kernels", "--reps", "0"));
    }
}
