package disco.cli;

import disco.kernels.Kernels;
import disco.util.ExitCodes;
import disco.models.registry.ModelDir;
import disco.models.registry.Registry;
import disco.run.Checkpoint;
import disco.run.MemoryEstimate;
import disco.run.PerfOptions;
import disco.run.Pipeline;
import disco.run.ModelLoader;
import disco.run.ResolvedSettings;
import disco.run.RunLoop;
import disco.run.StopAt;
import disco.settings.Settings;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options and the flow {@code disco run}, {@code disco demo} and {@code disco resume} share. */
final class RunSupport {
    /** Where and how a run executes (a picocli mixin). */
    static final class ExecOptions {
        @Option(names = "--device", paramLabel = "cpu|cuda",
                description = "where the networks run (default: cpu, or as the settings' useCPU says)")
        String device;

        @Option(names = "--model-dir", paramLabel = "DIR",
                description = "model directory (default: $DISCO_MODELS, else ~/.cache/disco/models)")
        Path modelDir;

        @Option(names = "--stop-at", paramLabel = "N|P%",
                description = "stop after N executed steps (or P%% of them), keeping the partial and a checkpoint"
                        + " to finish with `disco resume`")
        String stopAt;

        @picocli.CommandLine.Mixin
        PerfFlags perf = new PerfFlags();
    }

    private RunSupport() {}

    /**
     * The LibTorch device for {@code --device} (every command's: {@code cpu} or {@code cuda}); a device that is not
     * there, native kernels built without CUDA, a GPU whose architecture this build has no code for, or a host
     * library LibTorch needs and does not find ({@link Torch#init()}, before anything loads) is bad input.
     */
    static Device device(String name) {
        Torch.init();
        String d = name == null ? "cpu" : name;
        return switch (d) {
            case "cpu" -> new Device(torch.DeviceType.CPU);
            case "cuda" -> {
                if (!torch.cuda_is_available()) {
                    throw DiscoException.badInput("--device cuda: LibTorch sees no CUDA device here (a GPU machine and"
                            + " a -Pgpu build); use --device cpu");
                }
                if (!Kernels.hasCuda()) {
                    throw DiscoException.badInput("--device cuda: disco_kernels was built without CUDA (build with -Pgpu)");
                }
                disco.run.BuildLine.requireRunsOn(0);
                yield new Device("cuda:0");
            }
            default -> throw DiscoException.badInput("--device: expected cpu or cuda, found '" + name + "'");
        };
    }

    /**
     * The run's device: {@code --device} when given, else DD's {@code useCPU} from the settings ({@code false}: CUDA
     * when LibTorch and the kernels have it, else the CPU with a warning, as DD falls back), else the CPU.
     */
    static Device device(ExecOptions o, Settings s) {
        Boolean useCpu = s == null ? null : s.useCpu();
        if (o.device != null) {
            if (Boolean.TRUE.equals(useCpu) && o.device.equals("cuda")) {
                System.err.println("disco: warning: settings: useCPU: true overridden by --device cuda");
            }
            return device(o.device);
        }
        if (Boolean.FALSE.equals(useCpu)) {
            Torch.init();
            if (torch.cuda_is_available() && Kernels.hasCuda()) return device("cuda");
            System.err.println("disco: warning: settings: useCPU: false, but there is no CUDA device here (or the"
                    + " kernels were built without CUDA): running on the CPU, as DD does");
        }
        return device("cpu");
    }

    static StopAt stopAt(ExecOptions o) {
        return o.stopAt == null ? null : StopAt.parse(o.stopAt);
    }

    /** Loads the networks the settings name (checking every file first), builds the run's pipeline. */
    static Pipeline engine(Settings s, ExecOptions o, Device device) {
        java.util.List<String> warnings = new java.util.ArrayList<>();
        PerfOptions perf = o.perf.options(s, device, warnings);
        for (String w : warnings) System.err.println("disco: warning: " + w);
        MemoryEstimate.recordBaseline();
        Path modelDir = ModelDir.resolve(o.modelDir);
        Pipeline.Networks nets = ModelLoader.load(s, modelDir, Registry.builtin());
        return pipeline(s, nets, perf, device);
    }

    /** The run's pipeline over loaded networks (moved to {@code device}); the run's log records its options. */
    static Pipeline pipeline(Settings s, Pipeline.Networks nets, PerfOptions perf, Device device) {
        if (!device.is_cpu()) {
            nets.unet().to(device, false);
            if (nets.secondary() != null) nets.secondary().to(device, false);
            nets.clips().values().forEach(c -> c.to(device, false));
            if (nets.lpips() != null) nets.lpips().to(device, false);
        }
        return Pipeline.forSettings(s, nets, perf, device, msg -> System.err.println("disco: warning: " + msg));
    }

    /** {@code --out} (run and demo; resume writes where the run wrote). */
    static final class OutOption {
        @Option(names = "--out", paramLabel = "DIR", defaultValue = "images_out",
                description = "output root; images go to DIR/<batch_name>/ (default: ${DEFAULT-VALUE})")
        Path out;
    }

    /**
     * {@code --dry-run}: loads the networks and builds the pipeline as the run would, then prints the options in
     * force and the memory estimate of its peak step — on this device, and on a 16 GB P100 and a 40 GB A100 with
     * the options that make it fit there — and exits without running a step.
     */
    static int dryRun(ResolvedSettings r, ExecOptions o) {
        Device device = device(o, r.settings());
        try (Pipeline p = engine(r.settings(), o, device)) {
            MemoryEstimate.Inputs in = MemoryEstimate.inputs(p);
            MemoryEstimate.Report rep = MemoryEstimate.estimate(in, p.clipBatch());
            MemoryEstimate.Step pk = rep.peak();
            StringBuilder opts = new StringBuilder();
            p.describe().forEach((k, v) -> opts.append(opts.length() == 0 ? "" : " ").append(k).append('=').append(v));
            System.out.println("options: " + opts);
            System.out.printf("estimated peak memory on %s: %.2f GiB at executed step %d (parameters %.2f, %s activations"
                            + " %.2f, CLIP %s on %d images per call %.2f, process baseline %.2f)%n", rep.device(),
                    gib(pk.total()), pk.step(), gib(pk.params()), "denoiser", gib(pk.denoiser()),
                    pk.clipModel() == null ? "-" : pk.clipModel(), pk.imagesPerCall(), gib(pk.clip()), gib(pk.baseline()));
            long avail = MemoryEstimate.availableBytes(device);
            if (pk.total() > avail) {
                System.out.printf("that is more than the %.2f GiB available here: %s%n", gib(avail),
                        hint(MemoryEstimate.fitOn(in, avail)));
            }
            for (long[] card : new long[][] {{16, 0}, {40, 1}}) {
                long budget = card[0] << 30;
                String name = card[1] == 0 ? "a 16 GB P100" : "a 40 GB A100";
                java.util.List<String> fix = MemoryEstimate.fitOn(in, budget);
                System.out.printf("on %s: %s%n", name, fix == null ? "does not fit with any memory option"
                        : fix.isEmpty() ? "fits as it is" : "fits with " + String.join(" ", fix));
            }
            return ExitCodes.OK;
        }
    }

    private static String hint(java.util.List<String> fix) {
        return fix == null ? "no memory option makes it fit" : fix.isEmpty() ? "it fits on CUDA as it is" : "try " + String.join(" ", fix);
    }

    private static double gib(long b) {
        return b / (1024.0 * 1024 * 1024);
    }

    /** Runs from the start; prints the final images (or the checkpoint) on stdout. */
    static int run(ResolvedSettings r, ExecOptions o, Path out) {
        Device device = device(o, r.settings());
        StopAt stop = stopAt(o);
        try (Pipeline engine = engine(r.settings(), o, device)) {
            engine.networks().releaseTextTowers(); // the prompts are encoded; these networks serve this run only
            RunLoop.Result res = new RunLoop(System.err).run(new RunLoop.Spec(r.settings(), r.json(), out, stop), engine);
            return report(res);
        }
    }

    /**
     * Continues a checkpoint, with settings changed for the remaining steps ({@code set}: {@code KEY=VALUE}, may be
     * empty; the final images carry the changed settings, the run's {@code _settings.json} keeps those it started
     * with); prints the final images (or the new checkpoint) on stdout. Everything the checkpoint says is checked
     * first ({@link Checkpoint#check}). The run continues in the checkpoint's own directory (where runs write their
     * checkpoints), or in {@code runDir} when given: the {@code run_dir} recorded inside is not trusted.
     */
    static int resume(Path checkpoint, Path runDir, ExecOptions o, java.util.List<String> set, boolean force) {
        Checkpoint c = Checkpoint.read(checkpoint);
        ResolvedSettings r0 = ResolvedSettings.fromJson(c.settingsJson(), checkpoint + ": settings.json");
        c.check(checkpoint, r0.settings());
        Path own = checkpoint.toAbsolutePath().normalize().getParent();
        Path dir = runDir != null ? runDir.toAbsolutePath().normalize() : own;
        if (runDir == null && !c.runDir().toAbsolutePath().normalize().equals(own)) {
            System.err.println("disco: warning: " + checkpoint + ": run_dir " + c.runDir() + " is not the checkpoint's"
                    + " directory; continuing in " + own + " (--run-dir DIR chooses another)");
        }
        if (runDir != null && !java.nio.file.Files.isDirectory(dir)) {
            throw DiscoException.badInput("--run-dir: " + runDir + ": not a directory");
        }
        c = new Checkpoint(c.settingsJson(), dir, c.batchName(), c.batchNum(), c.batch(), c.nextStep(), c.stepsRun(),
                c.seed(), c.reason(), c.tensors(), c.ints());
        ResolvedSettings r = r0;
        if (!set.isEmpty()) {
            java.util.List<String> warnings = new java.util.ArrayList<>();
            r = disco.run.ResumeChanges.apply(r0, set, "command line", warnings);
            for (String w : warnings) System.err.println("disco: warning: " + w);
        } else {
            disco.run.ResumeVariant.checkNotFinished(checkpoint, c, r0.settings().batchSize(), force);
        }
        Device device = device(o, r.settings());
        try (Pipeline engine = engine(r.settings(), o, device)) {
            engine.networks().releaseTextTowers(); // the prompts are encoded; these networks serve this run only
            if (!set.isEmpty()) {
                // changed settings make a variant with its own files; the run's own files and checkpoint stay
                c = disco.run.ResumeVariant.create(c, r, set);
                System.err.println("disco: resume: a variant of " + c.batchName() + " with " + String.join(" ", set)
                        + ": " + c.runDir().resolve(c.batchName() + "(" + c.batchNum() + ")_*"));
            }
            RunLoop.Result res = new RunLoop(System.err).resume(c, new RunLoop.Spec(r.settings(), r.json(), null, stopAt(o)),
                    engine);
            return report(res);
        }
    }

    private static int report(RunLoop.Result res) {
        if (res.complete()) {
            for (Path p : res.images()) System.out.println(p);
        } else {
            System.out.println(res.checkpoint());
        }
        return ExitCodes.OK;
    }
}
