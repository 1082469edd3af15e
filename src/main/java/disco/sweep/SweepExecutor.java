package disco.sweep;

import disco.util.ExitCodes;
import disco.plan.PlanStep;
import disco.run.RunWriter;
import disco.run.Checkpoint;
import disco.run.Engine;
import disco.run.ResolvedSettings;
import disco.run.RgbImage;
import disco.run.RunOutputs;
import disco.run.RunSteps;
import disco.run.SaveSchedule;
import disco.run.StepLog;
import disco.run.StopAt;
import disco.sampling.Sampler;
import disco.sampling.SamplerState;
import disco.sampling.StepOutput;
import disco.settings.Settings;
import disco.util.AtomicFiles;
import disco.util.DiscoException;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * Executes a sweep as a {@link PrefixTree}: each node's step runs once, with the sampler of the first trajectory
 * through it (every trajectory through a node has the same settings up to that step, and every random draw is keyed
 * by (seed, batch, step, model), so the step is the same for all of them); at a fork the state is copied — kept in
 * memory while the held states fit {@code forkMemoryBytes}, spilled to disk beyond — and each branch continues. Every
 * run gets the files {@code disco run} writes ({@code <out>/<run>/}: settings, log, partials, progress, final images,
 * and a checkpoint where {@code --stop-at} stops it). The {@link SweepState} records finished trajectories as they
 * finish, so a restart skips them.
 *
 * <p>What the directory already holds decides where each trajectory starts ({@link #resumePoint}): a batch whose
 * final images exist is finished and never rewritten (unless {@link #force}); one with a checkpoint of the run
 * (a preview) continues from it, so a preview sweep run again without {@code --stop-at}, or with a later one,
 * executes only the remaining steps and ends with the images of a sweep run straight through.
 */
public final class SweepExecutor {
    /** Opens the engine (networks, prompts) of a run; closed when its trajectories are done. */
    @FunctionalInterface
    public interface EngineFactory {
        Engine open(Settings settings);
    }

    /** What an execution did. */
    public record Result(long executedSteps, long independentSteps, int trajectoriesRun, int trajectoriesSkipped,
                         List<String> diverged) {}

    private final Path out;
    private final EngineFactory factory;
    private final PrintStream err;
    private StopAt stopAt;
    private boolean force;
    private java.util.function.Consumer<SweepRun> onRunFinished = r -> {};
    private long forkMemoryBytes = 1L << 30;
    private long held;
    private int spillCounter;
    private long stepsDone;
    private long stepsTotal;
    private SweepState state;

    private final Map<SweepRun, RunSink> sinks = new HashMap<>();
    private final Map<PrefixTree.Trajectory, Sampler> samplers = new HashMap<>();
    private final Map<SweepRun, Integer> openTrajectories = new HashMap<>();
    private final List<String> diverged = new ArrayList<>();

    public SweepExecutor(Path out, EngineFactory factory, PrintStream err) {
        this.out = out;
        this.factory = factory;
        this.err = err;
    }

    public SweepExecutor stopAt(StopAt s) {
        this.stopAt = s;
        return this;
    }

    /** Recompute trajectories from x_T even when their final images or checkpoints exist (and overwrite them). */
    public SweepExecutor force(boolean on) {
        this.force = on;
        return this;
    }

    /** Called when a run's last trajectory of this execution has finished (final images, a preview, or diverged). */
    public SweepExecutor onRunFinished(java.util.function.Consumer<SweepRun> callback) {
        this.onRunFinished = callback;
        return this;
    }

    /** Bytes of fork states kept in memory before further ones are spilled to {@code <out>/.forks/}. */
    public SweepExecutor forkMemory(long bytes) {
        this.forkMemoryBytes = bytes;
        return this;
    }

    /** Steps each run executes: all, or up to {@code --stop-at}. */
    public int stepsFor(SweepRun r) {
        return stopAt == null ? r.stepsRun() : stopAt.stepsFor(r.stepsRun());
    }

    /**
     * Runs the given trajectories (all of the sweep's or a shard's) that {@code state} does not record as finished
     * with at least the steps asked for.
     */
    public Result execute(List<PrefixTree.Trajectory> trajectories, SweepState state) {
        this.state = state;
        List<PrefixTree.Trajectory> todo = new ArrayList<>();
        int skipped = 0;
        for (PrefixTree.Trajectory t : trajectories) {
            PrefixTree.Trajectory c = resumePoint(t);
            if (c == null) skipped++;
            else todo.add(c);
        }
        PrefixTree tree = PrefixTree.ofTrajectories(todo);
        stepsTotal = tree.executedSteps();
        for (PrefixTree.Trajectory t : todo) openTrajectories.merge(t.run(), 1, Integer::sum);
        try {
            for (PrefixTree.Node root : tree.roots()) runRoot(root);
        } finally {
            for (RunSink s : sinks.values()) s.closeEngine();
            sinks.clear();
        }
        return new Result(tree.executedSteps(), tree.independentSteps(), todo.size(), skipped, List.copyOf(diverged));
    }

    /** A run's files in the sweep directory (batch number 0: the sweep's own; variants have others). */
    RunOutputs files(SweepRun r) {
        return new RunOutputs(out.resolve(r.name()), r.name(), 0, r.settings().batchSize(), "");
    }

    /** Batch {@code b}'s checkpoint in the run's directory. */
    Path checkpointFile(SweepRun r, int b) {
        Path f = files(r).checkpointFile();
        if (b == 0) return f;
        String n = f.getFileName().toString();
        return f.resolveSibling(n.substring(0, n.length() - 4) + "-" + b + ".zip");
    }

    /** Whether every final image of batch {@code b} exists. */
    boolean finished(SweepRun r, int b) {
        RunOutputs o = files(r);
        for (int k = 0; k < r.settings().batchSize(); k++) if (!Files.isRegularFile(o.finalImage(b, k))) return false;
        return true;
    }

    /**
     * Where {@code t} starts, from what the directory holds: null when there is nothing to do (its final images
     * exist, or its checkpoint is at least as far as asked), {@code t} continued from its checkpoint's step, or
     * {@code t} from x_T. A checkpoint left beside final images is stale and removed; the state file is brought in
     * line with the files.
     */
    PrefixTree.Trajectory resumePoint(PrefixTree.Trajectory t) {
        if (force) return t;
        SweepRun r = t.run();
        Path ck = checkpointFile(r, t.batch());
        SweepState.Entry e = state.entry(t.id());
        if (finished(r, t.batch())) {
            if (e == null || !e.status().equals("done")) state.put(t.id(), new SweepState.Entry("done", r.stepsRun(), null));
            if (Files.exists(ck)) {
                try {
                    Files.delete(ck);
                    err.println("disco: sweep: " + out.relativize(ck) + ": removed, its run has finished");
                } catch (IOException ex) {
                    throw io(ck, ex);
                }
            }
            return null;
        }
        if (Files.isRegularFile(ck)) {
            Checkpoint c;
            try {
                c = Checkpoint.read(ck);
                c.check(ck, r.settings());
            } catch (DiscoException ex) {
                err.println("disco: warning: sweep: " + ex.getMessage() + "; " + t.id() + " starts again from x_T");
                return t;
            }
            if (!c.settingsJson().equals(ResolvedSettings.of(r.settings()).json()) || c.batch() != t.batch()) {
                err.println("disco: warning: sweep: " + ck + ": not a checkpoint of this sweep's " + r.name()
                        + " (other settings); it starts again from x_T");
                return t;
            }
            if (c.nextStep() >= t.steps()) {
                if (e == null || !e.status().equals("stopped") || e.steps() != c.nextStep()) {
                    state.put(t.id(), new SweepState.Entry("stopped", c.nextStep(), out.relativize(ck).toString()));
                }
                return null;
            }
            return t.continued(c.nextStep());
        }
        return t;
    }

    private RunSink sink(SweepRun r) {
        return sinks.computeIfAbsent(r, k -> new RunSink(k));
    }

    private Sampler sampler(PrefixTree.Trajectory t) {
        return samplers.computeIfAbsent(t, k -> {
            Sampler s = sink(k.run()).engine().sampler(k.batch(), k.run().settings().seed() + k.batch());
            if (s.stepsToRun() != k.run().stepsRun()) {
                throw new IllegalStateException("engine sampler runs " + s.stepsToRun() + " steps, the plan says " + k.run().stepsRun());
            }
            return s;
        });
    }

    private void runRoot(PrefixTree.Node root) {
        for (PrefixTree.Trajectory t : root.through) sink(t.run()).beginBatch(t.batch(), t.from());
        PrefixTree.Trajectory rep = root.through.get(0);
        RunSink rs = sink(rep.run());
        SamplerState start;
        if (rep.from() > 0) {
            // every trajectory through this root agrees on the steps before `from`: any one's checkpoint holds the state
            Checkpoint c = Checkpoint.read(checkpointFile(rep.run(), rep.batch()));
            start = RunSteps.fromArrays(c.tensors(), c.ints(), rs.engine());
        } else {
            start = RunSteps.start(rep.run().settings(), rs.engine(), sampler(rep),
                    rep.run().settings().seed() + rep.batch(), rs.init());
        }
        visit(root, start);
    }

    /** Continues below {@code node} from {@code s} (the state after node's step), which this call closes. */
    private void visit(PrefixTree.Node node, SamplerState s) {
        List<PrefixTree.Node> ch = node.children;
        if (ch.isEmpty()) {
            s.close();
            return;
        }
        if (ch.size() == 1) {
            SamplerState next = step(ch.get(0), s);
            if (next != null) visit(ch.get(0), next);
            return;
        }
        Held h = hold(s, node.through.get(0));
        for (int k = 0; k < ch.size(); k++) {
            SamplerState in = k == ch.size() - 1 ? release(h) : copy(h);
            SamplerState next = step(ch.get(k), in);
            if (next != null) visit(ch.get(k), next);
        }
    }

    /** Runs node's step from {@code in} (closed here) and emits it to every trajectory through it. */
    private SamplerState step(PrefixTree.Node node, SamplerState in) {
        PrefixTree.Trajectory rep = node.through.get(0);
        Settings s = rep.run().settings();
        Sampler sampler = sampler(rep);
        int j = node.step;
        if (in.stepsDone() != j) throw new IllegalStateException("state at step " + in.stepsDone() + ", node at " + j);
        long t0 = System.nanoTime();
        StepOutput o;
        List<RgbImage> images = null;
        disco.run.X0Stats x0;
        sink(rep.run()).engine().beforeStep(j);
        try (PointerScope scope = new PointerScope()) {
            o = sampler.step(in);
            try {
                float[] v = disco.torch.Tensors.toFloats(o.predXstart());
                x0 = disco.run.X0Stats.of(v, s.width(), s.height());
                if (needsImages(node)) images = RunSteps.images(v, s);
            } finally {
                o.close();
            }
        }
        SamplerState next = o.state();
        in.close();
        double ms = (System.nanoTime() - t0) / 1e6;
        stepsDone++;
        progress(node, j, ms);
        if (!o.finite()) {
            for (PrefixTree.Trajectory t : node.through) {
                String msg = t.id() + " step " + j + ": the sample became non-finite (NaN/Inf)";
                diverged.add(msg);
                err.println("disco: sweep: " + msg + "; its branch stops");
                state.put(t.id(), new SweepState.Entry("diverged", j, null));
                finishTrajectory(t);
            }
            next.close();
            return null;
        }
        Map<String, Npy.Array> arrays = null;
        for (PrefixTree.Trajectory t : node.through) {
            boolean stop = j == t.steps() - 1 && t.steps() < t.run().stepsRun();
            if (stop && arrays == null) arrays = RunSteps.toArrays(next);
            sink(t.run()).step(t, j, o, images, ms, x0, stop ? next : null, arrays);
        }
        for (PrefixTree.Trajectory t : node.ending) finishTrajectory(t);
        return next;
    }

    private void finishTrajectory(PrefixTree.Trajectory t) {
        samplers.remove(t);
        int left = openTrajectories.merge(t.run(), -1, Integer::sum);
        if (left <= 0) {
            RunSink s = sinks.remove(t.run());
            if (s != null) s.closeEngine();
            onRunFinished.accept(t.run());
        }
    }

    private boolean needsImages(PrefixTree.Node node) {
        for (PrefixTree.Trajectory t : node.through) {
            RunSink s = sink(t.run());
            if (node.step == t.steps() - 1 || s.writer().needsImages(node.step)) {
                return true;
            }
        }
        return false;
    }

    private void progress(PrefixTree.Node node, int j, double ms) {
        List<String> names = new ArrayList<>();
        for (PrefixTree.Trajectory t : node.through) if (!names.contains(t.run().name())) names.add(t.run().name());
        String who = names.size() == 1 ? names.get(0) : names.get(0) + " and " + (names.size() - 1) + " more";
        PlanStep ps = node.through.get(0).run().plan().step(j);
        err.printf("sweep %d/%d: step %d of %s%s %s %.2f s/step%n", stepsDone, stepsTotal, j, who,
                node.through.get(0).batch() > 0 ? " (batch " + node.through.get(0).batch() + ")" : "",
                ps.active().isEmpty() ? "(no CLIP)" : String.join(",", ps.active()), ms / 1000.0);
    }

    // ------------------------------------------------------------------ fork states

    /** A fork's state: in memory, or spilled to a file. */
    private final class Held {
        SamplerState mem;
        Path file;
        long bytes;
        Engine engine;
    }

    private Held hold(SamplerState s, PrefixTree.Trajectory owner) {
        Held h = new Held();
        h.engine = sink(owner.run()).engine();
        long bytes = 0;
        for (var t : s.tensors().values()) bytes += t.numel() * t.element_size();
        h.bytes = bytes;
        if (held + bytes <= forkMemoryBytes) {
            h.mem = s;
            held += bytes;
            return h;
        }
        Map<String, Npy.Array> arrays = RunSteps.toArrays(s);
        Map<String, Long> ints = s.ints();
        s.close();
        // named by the state file (one per shard) as well as the pid: shards on other hosts of a shared file system
        // may have the same pid, and never write the same file
        String stateName = state.file().getFileName().toString().replaceFirst("\\.json$", "");
        h.file = out.resolve(".forks").resolve(stateName + "-fork-" + ProcessHandle.current().pid() + "-" + (spillCounter++) + ".zip");
        try {
            Files.createDirectories(h.file.getParent());
            AtomicFiles.write(h.file, os -> {
                ZipOutputStream zip = new ZipOutputStream(os);
                zip.putNextEntry(new ZipEntry("ints"));
                StringBuilder sb = new StringBuilder();
                ints.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
                zip.write(sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                zip.closeEntry();
                for (Map.Entry<String, Npy.Array> e : arrays.entrySet()) {
                    zip.putNextEntry(new ZipEntry(e.getKey() + ".npy"));
                    zip.write(Npy.encodeFloats(e.getValue().floats(), e.getValue().shape()));
                    zip.closeEntry();
                }
                zip.finish();
            });
        } catch (IOException e) {
            throw new DiscoException(ExitCodes.IO_ERROR, h.file + ": cannot spill a fork state (" + e.getMessage() + ")", e);
        }
        return h;
    }

    private SamplerState copy(Held h) {
        return h.mem != null ? RunSteps.copy(h.mem) : load(h);
    }

    private SamplerState release(Held h) {
        if (h.mem != null) {
            held -= h.bytes;
            return h.mem;
        }
        SamplerState s = load(h);
        try {
            Files.deleteIfExists(h.file);
        } catch (IOException ignored) {
            // a leftover spill file is harmless
        }
        return s;
    }

    private SamplerState load(Held h) {
        Map<String, Npy.Array> arrays = new LinkedHashMap<>();
        Map<String, Long> ints = new LinkedHashMap<>();
        try (InputStream raw = Files.newInputStream(h.file); ZipInputStream zip = new ZipInputStream(raw)) {
            ZipEntry e;
            while ((e = zip.getNextEntry()) != null) {
                ByteArrayOutputStream bo = new ByteArrayOutputStream();
                zip.transferTo(bo);
                if (e.getName().equals("ints")) {
                    for (String line : bo.toString(java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                        if (line.isBlank()) continue;
                        int eq = line.indexOf('=');
                        ints.put(line.substring(0, eq), Long.parseLong(line.substring(eq + 1)));
                    }
                } else {
                    String name = e.getName().substring(0, e.getName().length() - 4);
                    arrays.put(name, Npy.parse(bo.toByteArray(), h.file + ": " + e.getName()));
                }
            }
        } catch (IOException ex) {
            throw new DiscoException(ExitCodes.IO_ERROR, h.file + ": cannot read a spilled fork state (" + ex.getMessage() + ")", ex);
        }
        return RunSteps.fromArrays(arrays, ints, h.engine);
    }

    // ------------------------------------------------------------------ per-run files

    /** The files of one run, written by {@code disco run}'s writer ({@link RunWriter}). */
    private final class RunSink {
        final SweepRun run;
        final ResolvedSettings resolved;
        final RunOutputs outs;
        Engine engine;
        RunWriter writer;
        float[] init;
        boolean initRead;
        boolean settingsWritten;

        RunSink(SweepRun run) {
            this.run = run;
            this.resolved = ResolvedSettings.of(run.settings());
            this.outs = new RunOutputs(out.resolve(run.name()), run.name(), 0, run.settings().batchSize(), resolved.json());
        }

        Engine engine() {
            if (engine == null) engine = factory.open(run.settings());
            return engine;
        }

        RunWriter writer() {
            if (writer == null) {
                writer = new RunWriter(outs, run.settings(), run.plan(), engine().options())
                        .warnings(m -> err.println("disco: warning: sweep: " + run.name() + ": " + m));
            }
            return writer;
        }

        float[] init() {
            if (!initRead) {
                init = RunSteps.initImage(run.settings());
                initRead = true;
            }
            return init;
        }

        void closeEngine() {
            if (engine != null) {
                engine.close();
                engine = null;
            }
        }

        void beginBatch(int b, int from) {
            init(); // a bad init image fails before anything is written
            if (!settingsWritten) {
                writer().writeSettings();
                settingsWritten = true;
            }
            writer().beginBatch(b, from);
        }

        void step(PrefixTree.Trajectory t, int j, StepOutput o, List<RgbImage> images, double ms, disco.run.X0Stats x0,
                  SamplerState stopState, Map<String, Npy.Array> stopArrays) {
            int b = t.batch();
            writer().step(b, j, o, images, ms, x0);
            if (j == run.stepsRun() - 1) {
                state.put(t.id(), new SweepState.Entry("done", j + 1, null));
            } else if (stopState != null) {
                Path f = writer().stop(b, j, images, stopState, stopArrays, resolved.json(), run.settings().seed(), "stop-at " + stopAt);
                state.put(t.id(), new SweepState.Entry("stopped", j + 1, out.relativize(f).toString()));
            }
        }
    }

    private static DiscoException io(Path f, IOException e) {
        return new DiscoException(ExitCodes.IO_ERROR, f + ": cannot write (" + e.getMessage() + ")", e);
    }
}
