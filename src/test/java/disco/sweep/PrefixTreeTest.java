package disco.sweep;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The prefix tree on small sweeps whose sharing can be counted by hand from the plans. */
class PrefixTreeTest {
    static SweepDef.Builder base() {
        return new SweepDef.Builder().template("steps=20").template("n_batches=1").template("seed=1")
                .template("clip_models=[RN50]");
    }

    /** The first executed step at which two runs' plans differ (n when they never do). */
    static int firstDifference(SweepRun a, SweepRun b) {
        int n = Math.min(a.stepsRun(), b.stepsRun());
        for (int j = 0; j < n; j++) if (!a.stepKey(j).equals(b.stepKey(j))) return j;
        return n;
    }

    @Test
    void twoRunsShareTheirStepsUntilTheSchedulesDiffer() {
        List<SweepRun> runs = base().grid("k=300,700").template("tv_scale=[0]*{k}+[100]*(1000-{k})").build().runs(null);
        int n = runs.get(0).stepsRun();
        int d = firstDifference(runs.get(0), runs.get(1));
        assertTrue(d > 0 && d < n, "differ at " + d);
        PrefixTree t = PrefixTree.of(runs);
        assertEquals(2L * n, t.independentSteps());
        assertEquals(n + (n - d), t.executedSteps());
        assertEquals(1, t.forks());
        assertEquals(1, t.groups().size());
        // the plan entries really differ at d and agree before
        assertNotEquals(runs.get(0).plan().step(d).tvScale(), runs.get(1).plan().step(d).tvScale());
        assertEquals(runs.get(0).plan().step(d - 1), runs.get(1).plan().step(d - 1));
    }

    @Test
    void threeRunsFormANestedTree() {
        List<SweepRun> runs = base().grid("k=200,500,800").template("tv_scale=[0]*{k}+[100]*(1000-{k})").build().runs(null);
        int n = runs.get(0).stepsRun();
        int d01 = firstDifference(runs.get(0), runs.get(1)), d12 = firstDifference(runs.get(1), runs.get(2));
        assertTrue(d01 < d12);
        // run 0 leaves at d01; runs 1 and 2 share up to d12
        assertEquals(n + (n - d01) + (n - d12), PrefixTree.of(runs).executedSteps());
        assertEquals(2, PrefixTree.of(runs).forks());
    }

    @Test
    void whatSharesAndWhatDoesNot() {
        // seeds: nothing shared
        List<SweepRun> seeds = base().seeds("1,2,3").build().runs(null);
        PrefixTree t = PrefixTree.of(seeds);
        assertEquals(t.independentSteps(), t.executedSteps());
        assertEquals(3, t.groups().size());
        // output options only: everything shared
        List<SweepRun> saves = base().grid("r=0,5,10").template("save_rate={r}").build().runs(null);
        assertEquals(saves.get(0).stepsRun(), PrefixTree.of(saves).executedSteps());
        // a non-scheduled setting (eta) shapes the trajectory from the start
        List<SweepRun> eta = base().grid("e=0.0,0.8").template("eta={e}").build().runs(null);
        assertEquals(PrefixTree.of(eta).independentSteps(), PrefixTree.of(eta).executedSteps());
        // batches: each batch its own trajectory, shared across runs batch by batch
        List<SweepRun> b = new SweepDef.Builder().template("steps=20").template("seed=1").template("clip_models=[RN50]")
                .template("n_batches=3").grid("r=0,5").template("save_rate={r}").build().runs(null);
        PrefixTree tb = PrefixTree.of(b);
        assertEquals(3L * b.get(0).stepsRun(), tb.executedSteps());
        assertEquals(6L * b.get(0).stepsRun(), tb.independentSteps());
        assertEquals(1, tb.groups().size()); // a run's batches stay in one group
        // stop-at shortens every trajectory
        assertEquals(2L * 5, PrefixTree.of(seeds.subList(0, 2), r -> 5).executedSteps());
    }

    @Test
    void plmsFirstStepReadsTheSecondStepsEntry() {
        // runs that differ only at step 1: under DDIM they share step 0, under PLMS they cannot (its first step calls
        // the guidance at step 1's schedule index)
        int p1 = base().build().runs(null).get(0).plan().step(1).schedIndex();
        for (String mode : new String[] {"ddim", "plms"}) {
            List<SweepRun> runs = base().template("diffusion_sampling_mode=" + mode).grid("k=" + p1 + ",1000")
                    .template("tv_scale=[0]*{k}+[100]*(1000-{k})").build().runs(null);
            int n = runs.get(0).stepsRun();
            assertEquals(runs.get(0).plan().step(0), runs.get(1).plan().step(0));
            assertNotEquals(runs.get(0).plan().step(1), runs.get(1).plan().step(1));
            int d = mode.equals("ddim") ? 1 : 0;
            assertEquals(d, firstDifference(runs.get(0), runs.get(1)), mode);
            assertEquals(n + (n - d), PrefixTree.of(runs).executedSteps(), mode);
        }
    }

    @Test
    void shardsAreDeterministicAndBalanced() {
        List<SweepRun> runs = base().seeds("1:6").build().runs(null);
        PrefixTree t = PrefixTree.of(runs);
        List<PrefixTree.Trajectory> a = t.shard(1, 3), b = t.shard(2, 3), c = t.shard(3, 3);
        assertEquals(2, a.size());
        assertEquals(2, b.size());
        assertEquals(2, c.size());
        assertEquals(a, PrefixTree.of(runs).shard(1, 3));
        assertThrows(IllegalArgumentException.class, () -> t.shard(0, 3));
    }
}
