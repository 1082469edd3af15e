package disco.cli;

import disco.models.registry.ModelDir;
import disco.models.registry.Registry;
import disco.plan.StepPlan;
import disco.run.MemoryEstimate;
import disco.run.ModelLoader;
import disco.run.PerfOptions;
import disco.run.Pipeline;
import disco.settings.Settings;
import disco.sweep.EmitJob;
import disco.sweep.EmitK8s;
import disco.sweep.EmitSlurm;
import disco.sweep.PrefixTree;
import disco.sweep.SweepDef;
import disco.sweep.SweepRun;
import disco.util.DiscoException;
import disco.util.ExitCodes;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code disco sweep … --emit slurm|k8s DIR --shards N}: the scheduler's job for the sweep (see {@link EmitSlurm},
 * {@link EmitK8s}), with the resources of one shard from the memory estimate: the networks are loaded as the shards
 * would load them (model files must be here; when they are not, the job is written without memory requests and a
 * warning says why) and every run's peak step estimated; the fork states a shard holds at once are added.
 */
final class SweepEmit {
    /** Host memory on top of the estimate: the JVM's heap and LibTorch's allocator slack. */
    static final double MARGIN = 1.25;
    static final long SLACK = 512L << 20;

    private SweepEmit() {}

    /** Options of {@code sweep} that an emitted job does not repeat (with their value count). */
    private static final Map<String, Integer> DROPPED = Map.of("--emit", 2, "--shards", 1, "--image", 1,
            "--volume-claim", 1, "--shard", 1, "--collect", 0, "--dry-run", 0);

    /** The arguments after {@code sweep} without the emit/shard/collect/dry-run options. */
    static List<String> sweepArgs(List<String> original) {
        int start = original.indexOf("sweep");
        List<String> in = start < 0 ? original : original.subList(start + 1, original.size());
        List<String> out = new ArrayList<>();
        for (int i = 0; i < in.size(); i++) {
            String a = in.get(i);
            int eq = a.indexOf('=');
            String name = a.startsWith("--") && eq > 0 ? a.substring(0, eq) : a;
            Integer n = DROPPED.get(name);
            if (n == null) {
                out.add(a);
                continue;
            }
            i += name.equals(a) ? n : Math.max(0, n - 1);
        }
        return out;
    }

    static int emit(SweepCommand c, SweepDef def, List<SweepRun> runs, PrefixTree full, List<String> original,
                    PrintStream o, PrintStream err) {
        String kind = c.emit.get(0);
        Path dir = Path.of(c.emit.get(1));
        if (!kind.equals("slurm") && !kind.equals("k8s")) {
            throw DiscoException.badInput("--emit: expected slurm or k8s, found '" + kind + "'");
        }
        if (c.shards == null) throw DiscoException.badInput("--emit " + kind + ": --shards N: expected the number of shards (array tasks)");
        int n = c.shards;
        if (n < 1) throw DiscoException.badInput("--shards: expected >= 1, found " + n);
        if (kind.equals("k8s") && (c.image == null || c.volumeClaim == null)) {
            throw DiscoException.badInput("--emit k8s: " + (c.image == null ? "--image IMAGE: expected the container image"
                    + " (with disco on its PATH)" : "--volume-claim NAME: expected the ReadWriteMany PersistentVolumeClaim"
                    + " that holds --out"));
        }
        if (kind.equals("slurm") && (c.image != null || c.volumeClaim != null)) {
            throw DiscoException.badInput((c.image != null ? "--image" : "--volume-claim") + ": only for --emit k8s");
        }
        int groups = full.groups().size();
        if (n > groups) {
            throw DiscoException.badInput("--shards: " + n + " shards for " + groups + " prefix groups: at most " + groups
                    + " (a shard runs whole groups; more would leave some empty)");
        }
        Path cwd = Path.of("").toAbsolutePath().normalize();
        Path out = c.out.toAbsolutePath().normalize();
        List<Long> steps = new ArrayList<>();
        long forkHeld = 0;
        for (int i = 1; i <= n; i++) {
            PrefixTree t = PrefixTree.ofTrajectories(full.shard(i, n));
            steps.add(t.executedSteps());
            forkHeld = Math.max(forkHeld, heldForks(t));
        }
        forkHeld = Math.min(forkHeld, Math.max(0, c.forkMemoryMb) << 20);
        // --device, else DD's useCPU of the first run (false: the shards run on CUDA, as RunSupport.device decides on a
        // node with a GPU), else the CPU
        String dev = c.exec.device != null ? c.exec.device
                : !runs.isEmpty() && Boolean.FALSE.equals(runs.get(0).settings().useCpu()) ? "cuda" : "cpu";
        boolean gpu = "cuda".equals(dev);
        if (!gpu && !"cpu".equals(dev)) throw DiscoException.badInput("--device: expected cpu or cuda, found '" + dev + "'");
        List<String> args = sweepArgs(original);
        K8sInputs k8s = kind.equals("k8s") ? k8sInputs(c, def, runs, args, cwd, out) : null; // checked before the estimate
        Resources res = resources(runs, c.exec, gpu, forkHeld, err);
        Integer cpus = c.exec.perf.threads > 0 ? c.exec.perf.threads : null;
        if (cpus == null) {
            err.println("disco: warning: --emit: no --threads: each shard runs LibTorch's default thread count (every core"
                    + " of its node) and the job requests no CPU count; give --threads N to request N CPUs per shard");
        }
        String name = "disco-sweep-" + SweepDef.digest(runs).replaceAll("[^0-9a-f]", "").substring(0, 8);
        List<Path> files;
        try {
            if (kind.equals("slurm")) {
                EmitJob job = new EmitJob(name, args, cwd, out, n, runs.size(), steps, res.host, res.gpu, gpu, cpus, res.line);
                String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
                files = EmitSlurm.write(dir, job, java, absoluteClasspath());
                o.println("# " + kind + ": " + runs.size() + " runs in " + n + " shards; " + res.line);
                for (Path f : files) o.println(f);
                Path submit = files.get(2);
                o.println("# submit: " + submit + "   (the array job and a --collect job after it)");
                o.println("# after a failure: " + submit + " I,J,...  re-submits only those shards (the collect log names them)");
            } else {
                K8sInputs in = k8s;
                EmitJob job = new EmitJob(name, in.args, cwd, out, n, runs.size(), steps, res.host, res.gpu, gpu, cpus, res.line);
                files = EmitK8s.write(dir, job, c.image, c.volumeClaim, in.files, in.outRel);
                o.println("# " + kind + ": " + runs.size() + " runs in " + n + " shards; " + res.line);
                for (Path f : files) o.println(f);
                o.println("# submit: kubectl apply -f " + files.get(0));
                o.println("# then:   kubectl wait --for=condition=complete --timeout=-1s job/" + name + " && kubectl apply -f "
                        + files.get(1) + " && kubectl logs -f job/" + name + "-collect");
                o.println("# after a failure: kubectl replace --force -f " + files.get(0) + "   (finished runs are skipped)");
            }
        } catch (IOException e) {
            throw new DiscoException(ExitCodes.IO_ERROR, dir + ": cannot write the " + kind + " job (" + e.getMessage() + ")", e);
        }
        return ExitCodes.OK;
    }

    private static String absoluteClasspath() {
        List<String> parts = new ArrayList<>();
        for (String p : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (!p.isEmpty()) parts.add(Path.of(p).toAbsolutePath().normalize().toString());
        }
        return String.join(java.io.File.pathSeparator, parts);
    }

    /** The most fork states held at once in a shard's tree: forks on one root-to-leaf path, times a state's bytes. */
    static long heldForks(PrefixTree t) {
        long most = 0;
        for (PrefixTree.Node r : t.roots()) most = Math.max(most, forksBelow(r, 0));
        long state = 0;
        for (PrefixTree.Trajectory tr : t.trajectories()) {
            Settings s = tr.run().settings();
            long x = 4L * s.batchSize() * 3 * s.height() * s.width();
            state = Math.max(state, s.diffusionSamplingMode().equals("plms") ? 2 * x : x);
        }
        return most * state;
    }

    private static long forksBelow(PrefixTree.Node node, long above) {
        long here = above + (node.children.size() > 1 ? 1 : 0);
        long most = here;
        for (PrefixTree.Node ch : node.children) most = Math.max(most, forksBelow(ch, here));
        return most;
    }

    record Resources(Long host, Long gpu, String line) {}

    /** One shard's memory: the largest run's estimated peak (per device), the fork states, a margin. */
    static Resources resources(List<SweepRun> runs, RunSupport.ExecOptions exec, boolean cuda, long forkHeld, PrintStream err) {
        disco.torch.Torch.init();
        MemoryEstimate.recordBaseline();
        Device cpu = new Device(torch.DeviceType.CPU);
        Device cudaDevice = cuda ? new Device("cuda:0") : null;
        Map<String, Pipeline.Networks> loaded = new HashMap<>();
        long hostPeak = 0, gpuPeak = 0, params = 0, baseline = 0;
        String at = null;
        try {
            for (SweepRun r : runs) {
                Settings s = r.settings();
                String key = s.diffusionModel() + "|" + s.diffusionModelConfig() + "|" + s.clipModels() + "|"
                        + Pipeline.needsSecondary(StepPlan.of(s));
                Pipeline.Networks nets = loaded.get(key);
                if (nets == null) {
                    try {
                        nets = ModelLoader.load(s, ModelDir.resolve(exec.modelDir), Registry.builtin());
                    } catch (DiscoException e) {
                        if (e.exitCode() != ExitCodes.BAD_INPUT) throw e;
                        String why = "no memory estimate (" + e.getMessage() + "): the job requests no memory";
                        err.println("disco: warning: --emit: " + why);
                        return new Resources(null, null, why);
                    }
                    loaded.put(key, nets);
                }
                List<String> warnings = new ArrayList<>();
                PerfOptions perf = exec.perf.options(s, cpu, warnings);
                try (Pipeline p = Pipeline.forSettings(s, nets, perf, cpu, msg -> {})) {
                    MemoryEstimate.Inputs in = MemoryEstimate.inputs(p);
                    MemoryEstimate.Step pk = MemoryEstimate.estimate(in, p.clipBatch()).peak();
                    baseline = pk.baseline();
                    long total = pk.total();
                    if (cuda) {
                        PerfOptions cp = exec.perf.options(s, cudaDevice, new ArrayList<>());
                        int cb = cp.clipBatch() == PerfOptions.CLIP_BATCH_AUTO ? 1 : cp.clipBatch();
                        long g = MemoryEstimate.estimate(MemoryEstimate.onCuda(in, cp), cb).peak().total()
                                + MemoryEstimate.CUDA_CONTEXT_BYTES;
                        if (g > gpuPeak) {
                            gpuPeak = g;
                            at = r.name();
                        }
                        long pr = 0;
                        for (long b : in.paramBytes().values()) pr += b;
                        params = Math.max(params, pr);
                    } else if (total > hostPeak) {
                        hostPeak = total;
                        at = r.name();
                    }
                }
            }
        } finally {
            // the networks were loaded for the estimate only; the process ends after emitting
            loaded.clear();
        }
        if (cuda) {
            long host = (long) ((baseline + params + forkHeld) * MARGIN) + SLACK;
            return new Resources(host, gpuPeak, String.format(Locale.ROOT, "memory estimate per shard: GPU %s (run %s, with"
                    + " the CUDA context), host %s (baseline %s, parameters %s, fork states %s, x%.2f + %d MiB)",
                    gib(gpuPeak), at, gib(host), gib(baseline), gib(params), gib(forkHeld), MARGIN, SLACK >> 20));
        }
        long host = (long) ((hostPeak + forkHeld) * MARGIN) + SLACK;
        return new Resources(host, null, String.format(Locale.ROOT, "memory estimate per shard: %s (peak step of run %s %s"
                + " with the process baseline, fork states %s, x%.2f + %d MiB)", gib(host), at, gib(hostPeak), gib(forkHeld),
                MARGIN, SLACK >> 20));
    }

    private static String gib(long b) {
        return String.format(Locale.ROOT, "%.2f GiB", b / (double) (1L << 30));
    }

    record K8sInputs(List<String> args, Map<String, String> files, String outRel) {}

    /**
     * The files the pod needs (the sweep file, its settings file, {@code --settings}), relative to the working
     * directory, and the arguments with absolute paths to them (and to --out) made relative.
     */
    static K8sInputs k8sInputs(SweepCommand c, SweepDef def, List<SweepRun> runs, List<String> args, Path cwd, Path out) {
        for (SweepRun r : runs) {
            if (r.settings().initImage() != null) {
                throw DiscoException.badInput("--emit k8s: init_image: run " + r.name() + " reads " + r.settings().initImage()
                        + ", which the pod would not have (only the sweep and settings files travel in the ConfigMap)");
            }
        }
        if (c.exec.modelDir != null) {
            throw DiscoException.badInput("--emit k8s: --model-dir " + c.exec.modelDir + ": the pod reads its models from"
                    + " $DISCO_MODELS of the image (or ~/.cache/disco/models there); drop --model-dir");
        }
        Map<String, String> files = new LinkedHashMap<>();
        Map<String, String> rewrite = new HashMap<>();
        List<Path> inputs = new ArrayList<>();
        if (c.file != null) inputs.add(c.file);
        if (c.options.file != null) inputs.add(c.options.file);
        if (def.settingsFile() != null) inputs.add(def.settingsFile());
        for (Path f : inputs) {
            Path abs = f.toAbsolutePath().normalize();
            if (!abs.startsWith(cwd)) {
                throw DiscoException.badInput("--emit k8s: " + f + ": not under the working directory " + cwd
                        + " (the pod has its files at their paths relative to it)");
            }
            String rel = cwd.relativize(abs).toString();
            try {
                files.put(rel, Files.readString(abs));
            } catch (IOException e) {
                throw new DiscoException(ExitCodes.IO_ERROR, f + ": cannot read (" + e.getMessage() + ")", e);
            }
            if (f.isAbsolute()) rewrite.put(f.toString(), rel);
        }
        if (!out.startsWith(cwd) || out.equals(cwd)) {
            throw DiscoException.badInput("--emit k8s: --out " + c.out + ": expected a directory below the working directory "
                    + cwd + " (the volume is mounted there in the pod)");
        }
        String outRel = cwd.relativize(out).toString();
        if (c.out.isAbsolute()) rewrite.put(c.out.toString(), outRel);
        List<String> a = new ArrayList<>();
        for (String s : args) {
            if (rewrite.containsKey(s)) a.add(rewrite.get(s));
            else if (s.startsWith("--out=") && rewrite.containsKey(s.substring(6))) a.add("--out=" + outRel);
            else if (s.startsWith("--settings=") && rewrite.containsKey(s.substring(11))) a.add("--settings=" + rewrite.get(s.substring(11)));
            else a.add(s);
        }
        if (!a.contains("--out") && a.stream().noneMatch(s -> s.startsWith("--out="))) {
            a.add("--out");
            a.add(outRel);
        }
        return new K8sInputs(a, files, outRel);
    }
}
