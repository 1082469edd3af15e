package disco.sweep;

import disco.torch.Torch;
import disco.util.DiscoException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * --collect's completeness check on shards executed with the analytic engine: a shard that did not run, a run that
 * diverged, a final image that is gone are each named with their shard; a shard re-run after it stopped part-way
 * continues from its own state file; a state file of another sweep is refused.
 */
class SweepCollectTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void torch() {
        Torch.init();
    }

    @Test
    void missingAndFailedRunsAreNamedWithTheirShard() throws Exception {
        SweepDef d = SweepExecutionTest.def("ddim", 1);
        List<SweepRun> runs = d.runs(8L);
        PrefixTree full = PrefixTree.of(runs);
        List<PrefixTree.Trajectory> one = full.shard(1, 2), two = full.shard(2, 2);
        Path out = tmp.resolve("out");
        SweepState s1 = SweepState.open(out.resolve(SweepState.fileName(1, 2)));
        s1.bind(SweepDef.digest(runs), 8L);
        SweepExecutionTest.executor(out).forkMemory(0).execute(one, s1); // forks spilled, named by the shard

        // shard 2 never ran: its runs are missing, under the shard count its neighbour's state file tells
        SweepCollect.Result r = SweepCollect.check(out, runs, full, null);
        assertFalse(r.complete());
        assertEquals(2, r.shards());
        assertEquals(two.size(), r.incomplete().size());
        for (SweepCollect.Incomplete i : r.incomplete()) {
            assertTrue(two.contains(i.trajectory()), i.toString());
            assertEquals(2, i.shard());
            assertTrue(i.reason().startsWith("missing"), i.reason());
        }
        assertEquals(List.of(2), r.shardsToRerun());
        List<String> lines = SweepCollect.describe(r, runs.size(), "/x/submit.sh");
        assertTrue(lines.get(0).contains(two.size() + " of " + runs.size() + " runs are not complete"), lines.toString());
        assertTrue(lines.get(1).contains("(shard 2/2): missing"), lines.toString());
        assertEquals("sweep: re-submit only those shards: /x/submit.sh 2", lines.get(lines.size() - 1));
        assertTrue(SweepCollect.describe(r, runs.size(), null).get(lines.size() - 1).contains("--shard I/2"));

        // shard 2 stops after its first trajectory (killed), then runs again: it continues from its own state
        SweepState s2 = SweepState.open(out.resolve(SweepState.fileName(2, 2)));
        s2.bind(SweepDef.digest(runs), 8L);
        SweepExecutionTest.executor(out).execute(two.subList(0, 1), s2);
        SweepExecutor.Result again = SweepExecutionTest.executor(out).execute(two, SweepState.open(out.resolve(SweepState.fileName(2, 2))));
        assertEquals(1, again.trajectoriesSkipped());
        assertEquals(two.size() - 1, again.trajectoriesRun());
        assertTrue(SweepCollect.check(out, runs, full, null).complete());
        assertTrue(Files.isDirectory(out.resolve(".forks")), "shard 1 spilled its forks");
        try (var ds = Files.list(out.resolve(".forks"))) {
            assertEquals(0, ds.count(), "spilled fork states are removed");
        }

        // a final image gone, and a diverged run recorded by shard 1
        PrefixTree.Trajectory gone = two.get(0), bad = one.get(0);
        Files.delete(SweepExecutionTest.finalImage(out, gone.run(), 0));
        SweepState st1 = SweepState.open(out.resolve(SweepState.fileName(1, 2)));
        st1.put(bad.id(), new SweepState.Entry("diverged", 3, null));
        r = SweepCollect.check(out, runs, full, 2);
        assertEquals(2, r.incomplete().size(), r.toString());
        for (SweepCollect.Incomplete i : r.incomplete()) {
            if (i.trajectory().equals(gone)) {
                assertEquals(2, i.shard());
                assertTrue(i.reason().startsWith("missing: recorded as done, but"), i.reason());
            } else {
                assertEquals(bad, i.trajectory());
                assertEquals(1, i.shard());
                assertEquals("failed: the sample became non-finite at step 3", i.reason());
            }
        }
        assertEquals(List.of(1, 2), r.shardsToRerun());

        // another sweep's directory
        List<SweepRun> other = SweepExecutionTest.def("plms", 1).runs(8L);
        DiscoException e = assertThrows(DiscoException.class, () -> SweepCollect.check(out, other, PrefixTree.of(other), null));
        assertTrue(e.getMessage().contains("digest"), e.getMessage());
    }
}
