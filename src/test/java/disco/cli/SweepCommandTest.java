package disco.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** disco sweep in process: the blog grid's dry run, the same sweep from flags, sharded dry runs and bad input. */
class SweepCommandTest {
    @TempDir
    Path tmp;
    private final CliRun cli = new CliRun();

    @Test
    void blogGridDryRunExecutes2720Of5040Steps() {
        assertEquals(0, cli.run("sweep", "examples/blog-grid.yml", "--dry-run"), cli.stderr());
        String o = cli.stdout();
        assertTrue(o.startsWith("# sweep: 21 runs over s1 (6), s2 (6); 15 combinations excluded by constraints"), o);
        assertTrue(o.contains("# steps: 2720 executed as a tree vs 5040 independent (ratio 0.540;"), o);
        assertTrue(o.contains("s1=400_s2=600 "), o);
        assertTrue(o.contains("RN50 90 steps (0-89); ViT-L/14 150 steps (90-239)"), o);
        assertFalse(o.contains("warning"), o); // s1 + s2 >= 1000 leaves no step without a model
        assertFalse(Files.exists(Path.of("sweep")), "a dry run writes nothing");
    }

    @Test
    void theSameGridFromFlagsAndCoverageWarnings() {
        assertEquals(0, cli.run("sweep", "--settings", "examples/two-models.yml", "--set", "n_batches=1",
                "--grid", "s1=0:1000:200", "--grid", "s2=0:1000:200",
                "--set", "clip_models_schedules.RN50=[True]*{s1}+[False]*(1000-{s1})",
                "--set", "clip_models_schedules.ViT-L/14=[False]*(1000-{s2})+[True]*{s2}", "--dry-run"), cli.stderr());
        String o = cli.stdout();
        assertTrue(o.startsWith("# sweep: 36 runs over s1 (6), s2 (6)\n"), o);
        // without the constraint, runs with a gap in the schedule get the plan's coverage warning
        assertTrue(o.contains("s1=0_s2=0 ") && o.contains("  warning: 240 of 240 steps"), o);
        assertEquals(0, cli.run("sweep", "examples/blog-grid.yml", "--steps", "50", "--skip-steps", "0", "--dry-run"), cli.stderr());
        assertTrue(cli.stdout().contains("   50 steps x 1 batch"), cli.stdout());
    }

    @Test
    void onlyChoosesRunsByNameOrConstraint() {
        assertEquals(0, cli.run("sweep", "examples/blog-grid.yml", "--dry-run", "--only", "s1=400_s2=600,s1=0_s2=1000"), cli.stderr());
        assertTrue(cli.stdout().contains("s1=400_s2=600 ") && cli.stdout().contains("s1=0_s2=1000 "), cli.stdout());
        assertEquals(2, cli.stdout().lines().filter(l -> l.startsWith("s1=")).count(), cli.stdout());
        assertEquals(0, cli.run("sweep", "examples/blog-grid.yml", "--dry-run", "--only", "s1 == 1000"), cli.stderr());
        assertEquals(6, cli.stdout().lines().filter(l -> l.startsWith("s1=1000_")).count(), cli.stdout());
        assertEquals(6, cli.stdout().lines().filter(l -> l.startsWith("s1=")).count(), cli.stdout());
    }

    @Test
    void dryRunEstimateGivesTheLargestStepsMemory() {
        assertEquals(0, cli.run("sweep", "examples/demo-grid.yml", "--dry-run", "--estimate"), cli.stderr());
        assertTrue(cli.stdout().matches("(?s).*# memory: estimated peak [0-9.]+ GiB on cpu \\(run s1=[0-9]+_s2=[0-9]+\\) at executed step.*"),
                cli.stdout());
        assertTrue(cli.stdout().contains("# same run: "), cli.stdout());
    }

    @Test
    void shardsSplitPrefixGroupsAndSumToTheWhole() {
        long sum = 0;
        int runs = 0;
        for (int i = 1; i <= 2; i++) {
            assertEquals(0, cli.run("sweep", "examples/blog-grid.yml", "--dry-run", "--shard", i + "/2"), cli.stderr());
            String o = cli.stdout();
            var m = java.util.regex.Pattern.compile("# steps: (\\d+) executed").matcher(o);
            assertTrue(m.find(), o);
            sum += Long.parseLong(m.group(1));
            var r = java.util.regex.Pattern.compile("# shard \\d/2: (\\d+) of 21 runs").matcher(o);
            assertTrue(r.find(), o);
            runs += Integer.parseInt(r.group(1));
        }
        assertEquals(2720, sum);
        assertEquals(21, runs);
    }

    @Test
    void badInputIsOneLineAndExitCode2() throws Exception {
        String[][] cases = {
                {"sweep", "--grid", "s1=", "--dry-run"},
                {"sweep", "--grid", "s1=1,2", "--grid", "s1=3", "--dry-run"},
                {"sweep", "--grid", "s1=1,2", "--where", "s1 > 9", "--dry-run"},
                {"sweep", "--grid", "s1=1,2", "--set", "clip_guidance_scal={s1}", "--dry-run"},
                {"sweep", "--grid", "s1=1,2", "--set", "nope.RN50={s1}", "--dry-run"},
                {"sweep", "--grid", "s1=1,2", "--where", "s1 +", "--dry-run"},
                {"sweep", "examples/blog-grid.yml", "--shard", "3/2", "--dry-run"},
                {"sweep", "examples/blog-grid.yml", "--stop-at", "120%", "--dry-run"},
                {"sweep", "examples/blog-grid.yml", "--only", "s1=7_s2=8", "--dry-run"},
                {"sweep", "examples/blog-grid.yml", "--estimate"},
                {"sweep", "examples/blog-grid.yml", "--only", "s3 > 1", "--dry-run"},
                {"sweep", "examples/blog-grid.yml", "--only", "s1 > 5000", "--dry-run"},
        };
        for (String[] c : cases) {
            assertEquals(2, cli.run(c), String.join(" ", c) + ": " + cli.stderr());
            String e = cli.stderr().strip();
            assertTrue(e.startsWith("disco: "), e);
            assertEquals(1, e.lines().count(), e);
        }
        Path f = tmp.resolve("s.yml");
        Files.writeString(f, "grid: {s1: []}\n");
        assertEquals(2, cli.run("sweep", f.toString(), "--dry-run"));
        assertTrue(cli.stderr().contains("s1"), cli.stderr());
    }
}
