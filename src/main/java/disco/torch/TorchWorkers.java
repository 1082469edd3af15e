package disco.torch;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/**
 * A few threads that run independent LibTorch jobs at the same time on the CPU, each with its own share of the
 * intra-op threads. On two cores one network call at two threads wastes part of the second core (every operation
 * ends at a barrier; small operations do not split well), while two calls at one thread each keep both busy: the
 * guidance's CLIP calls of a step (one per model and cutn batch) are independent until their gradients are summed
 * (measured: bench/README.md, "CLIP calls side by side").
 *
 * <p>Each worker sets its OpenMP team size once ({@code at::set_num_threads} on its own thread, after LibTorch's
 * per-thread initialisation, so it sticks), then the global value is put back for the creating thread. While the
 * jobs run, the process's BLAS thread count is limited to a worker's share ({@link BlasThreads}: the bundled
 * OpenBLAS has one pool, which two callers would otherwise queue for). Jobs are taken in the order they were
 * started or run, by whichever worker is free; several callers may use the workers at once. A job runs in a
 * {@link PointerScope} of its own: the tensors it returns get handles of their own there ({@link Tensors#own}) and
 * are attached to the caller's scope after the join ({@link Tensors#adopt}),
 * so they outlive the worker's scope and are freed with the caller's. What LibTorch keeps per thread (grad mode,
 * autocast) is the job's to set: a job starts with LibTorch's defaults (grad on, autocast off).
 */
public final class TorchWorkers implements AutoCloseable {
    private final int threadsEach;
    private final ExecutorService pool;

    private TorchWorkers(int workers, int threadsEach) {
        this.threadsEach = threadsEach;
        this.pool = Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "disco-torch-worker");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * {@code workers} threads (>= 2), each with {@code threadsEach} (>= 1) intra-op threads. The calling thread's
     * and the global intra-op count are what they were before.
     */
    public static TorchWorkers start(int workers, int threadsEach) {
        if (workers < 2) throw new IllegalArgumentException("workers must be >= 2, got " + workers);
        if (threadsEach < 1) throw new IllegalArgumentException("threadsEach must be >= 1, got " + threadsEach);
        Torch.init();
        int callerThreads = torch.get_num_threads();
        TorchWorkers w = new TorchWorkers(workers, threadsEach);
        CountDownLatch ready = new CountDownLatch(workers);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> init = new ArrayList<>();
        for (int i = 0; i < workers; i++) {
            init.add(w.pool.submit(() -> {
                torch.get_num_threads(); // LibTorch's per-thread initialisation first: it would reset the count later
                torch.set_num_threads(threadsEach);
                ready.countDown();
                go.await(); // every worker holds its thread until all are set, so each initialises its own
                return null;
            }));
        }
        try {
            ready.await();
            go.countDown();
            for (Future<?> f : init) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            w.close();
            throw new IllegalStateException("interrupted while starting the torch workers", e);
        } catch (ExecutionException e) {
            w.close();
            throw new IllegalStateException("starting the torch workers: " + e.getCause(), e.getCause());
        } finally {
            torch.set_num_threads(callerThreads); // the workers' calls set the global value too
        }
        return w;
    }

    /**
     * Runs the jobs on the workers (at most as many at a time as there are workers, in list order as workers free
     * up, after any job {@link #start}ed before) and returns their results in list order, each job's tensors attached to the
     * caller's {@link PointerScope} (or owned by the caller when it has none). The first failure in list order is
     * rethrown once all jobs ended.
     */
    public List<Tensor[]> run(List<Supplier<Tensor[]>> jobs) {
        List<Pending> ps = new ArrayList<>(jobs.size());
        for (Supplier<Tensor[]> job : jobs) ps.add(start(job));
        List<Tensor[]> out = new ArrayList<>(jobs.size());
        RuntimeException failure = null;
        for (Pending p : ps) {
            try {
                out.add(p.get());
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
                out.add(null);
            }
        }
        if (failure != null) {
            // the other jobs' tensors: a scope now holds them; without one nobody would, so they go here
            if (PointerScope.getInnerScope() == null) {
                for (Tensor[] r : out) {
                    if (r == null) continue;
                    for (Tensor t : r) if (t != null) t.close();
                }
            }
            throw failure;
        }
        return out;
    }

    /**
     * Starts one job on the workers and returns at once; {@link Pending#get} waits for it. Until every started job
     * has been waited for, the process's BLAS thread count is a worker's share.
     */
    public Pending start(Supplier<Tensor[]> job) {
        enter();
        try {
            return new Pending(pool.submit(() -> owned(job)));
        } catch (RuntimeException e) {
            exit();
            throw e;
        }
    }

    /** A started job. */
    public final class Pending {
        private final Future<Tensor[]> f;
        private boolean done;

        private Pending(Future<Tensor[]> f) {
            this.f = f;
        }

        /**
         * Waits for the job; its tensors are attached to the caller's {@link PointerScope} (or owned by the
         * caller when it has none); its failure is rethrown. Call once.
         */
        public Tensor[] get() {
            if (done) throw new IllegalStateException("job already waited for");
            done = true;
            try {
                Tensor[] r = f.get();
                for (Tensor t : r) if (t != null) Tensors.adopt(t);
                return r;
            } catch (ExecutionException e) {
                throw unwrap(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a torch worker", e);
            } finally {
                exit();
            }
        }
    }

    private final Object blasLock = new Object();
    private int active;
    private BlasThreads.Region blas;

    private void enter() {
        synchronized (blasLock) {
            if (active++ == 0) blas = BlasThreads.limit(threadsEach);
        }
    }

    private void exit() {
        synchronized (blasLock) {
            if (--active == 0) {
                blas.close();
                blas = null;
            }
        }
    }

    /** The job in a scope of its own; its tensors get handles that outlive that scope. */
    private static Tensor[] owned(Supplier<Tensor[]> job) {
        try (PointerScope s = new PointerScope()) {
            Tensor[] r = job.get();
            Tensor[] own = new Tensor[r.length];
            for (int i = 0; i < r.length; i++) if (r[i] != null) own[i] = Tensors.own(r[i]);
            return own;
        }
    }

    private static RuntimeException unwrap(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
