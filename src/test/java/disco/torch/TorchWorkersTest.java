package disco.torch;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The workers that run a step's CLIP calls side by side: results in job order and alive after the workers' scopes
 * close, each worker on its own intra-op thread count while the caller keeps its own, the BLAS count limited during
 * a run and restored after it, the first failure in job order rethrown.
 */
class TorchWorkersTest {
    @Test
    void runsJobsOnTheirOwnThreadsAndHandsBackLiveTensorsInOrder() {
        Torch.init();
        int before = torch.get_num_threads();
        int blasBefore = BlasThreads.get();
        try (TorchWorkers w = TorchWorkers.start(2, 1); PointerScope scope = new PointerScope()) {
            assertEquals(before, torch.get_num_threads(), "starting the workers changed the caller's threads");
            ConcurrentHashMap<String, Integer> threadsSeen = new ConcurrentHashMap<>();
            ConcurrentHashMap<String, Integer> blasSeen = new ConcurrentHashMap<>();
            List<Supplier<Tensor[]>> jobs = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int k = i;
                jobs.add(() -> {
                    threadsSeen.put(Thread.currentThread().getName() + k, torch.get_num_threads());
                    blasSeen.put(Thread.currentThread().getName() + k, BlasThreads.get());
                    // a large enough product that the BLAS would split it; intermediates die with the job's scope
                    Tensor a = torch.full(new long[] {256, 256}, new org.bytedeco.pytorch.Scalar((double) k));
                    Tensor p = a.matmul(torch.ones(256, 256));
                    return new Tensor[] {p.sum(), a.mean()};
                });
            }
            List<Tensor[]> out = w.run(jobs);
            assertEquals(6, out.size());
            for (int k = 0; k < 6; k++) {
                System.gc(); // a handle the workers' scopes still owned would be freed by now
                assertEquals(k * 256.0 * 256 * 256, out.get(k)[0].item_double(), 1e-3, "job " + k + "'s product");
                assertEquals(k, out.get(k)[1].item_double(), 0, "job " + k + "'s mean");
            }
            for (int n : threadsSeen.values()) assertEquals(1, n, "a worker's intra-op threads: " + threadsSeen);
            if (BlasThreads.available()) {
                for (int n : blasSeen.values()) assertEquals(1, n, "the BLAS threads during a run: " + blasSeen);
                assertEquals(blasBefore, BlasThreads.get(), "the BLAS threads after a run");
            } else {
                System.err.println("TorchWorkersTest: BLAS threads not settable here: " + BlasThreads.problem());
            }
            assertEquals(before, torch.get_num_threads(), "a run changed the caller's threads");
        }
    }

    @Test
    void theFirstFailureInJobOrderIsRethrownAfterAllJobsEnded() {
        Torch.init();
        try (TorchWorkers w = TorchWorkers.start(2, 1); PointerScope scope = new PointerScope()) {
            List<Boolean> ran = java.util.Collections.synchronizedList(new ArrayList<>());
            IllegalArgumentException first = new IllegalArgumentException("first");
            List<Supplier<Tensor[]>> jobs = List.of(
                    () -> { ran.add(true); return new Tensor[] {torch.ones(2)}; },
                    () -> { throw first; },
                    () -> { throw new IllegalStateException("second"); },
                    () -> { ran.add(true); return new Tensor[] {torch.ones(2)}; });
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.run(jobs));
            assertSame(first, e);
            assertEquals(2, ran.size(), "every job ran before the failure was rethrown");
            // the workers still run jobs after a failure
            assertEquals(2.0, w.run(List.of(() -> new Tensor[] {torch.ones(2).sum()})).get(0)[0].item_double(), 0);
        }
        assertThrows(IllegalArgumentException.class, () -> TorchWorkers.start(1, 1));
        assertFalse(BlasThreads.available() && !BlasThreads.problem().isEmpty());
        assertTrue(BlasThreads.available() || !BlasThreads.problem().isEmpty(), "unavailable without a reason");
    }
}
