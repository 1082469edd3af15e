package disco.cli;

import disco.util.ExitCodes;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import disco.run.PerfOptions;
import disco.bench.StepBench;
import disco.bench.StepSetup;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Device;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code disco bench step}: guided sampling steps timed stage by stage (see {@link StepBench}). */
@Command(name = "step", mixinStandardHelpOptions = true,
        description = {"Run N guided sampling steps and report, per step, the time of each stage (UNet forward/backward,"
                + " each CLIP model's encode forward/backward, cutouts, gradient stage, sampler), the UNet passes and"
                + " CLIP images, and resident memory.",
                "--mode dd also runs the step the way Disco Diffusion does (UNet forward without grad, then again with"
                + " grad; one CLIP call per cutn batch; cutouts with LibTorch ops), interleaved with the engine's step on"
                + " the same networks, and prints the speed-up and the largest relative difference of the samples."})
public final class BenchStepCommand implements Callable<Integer> {
    /** The settings --demo uses when no --settings file is given. */
    public static final String DEMO_SETTINGS = "/disco/bench/demo-step-settings.json";

    static final class Source {
        @Option(names = "--reference", paramLabel = "DIR",
                description = "a reference directory (settings.json, unet.pt/unet.json, clip-<name>.pt, secondary.pt,"
                        + " text_embeds-<name>.npy), e.g. ../shared/fixtures/dd-reference-A")
        Path reference;

        @Option(names = "--demo", description = "the built-in tiny networks (no download), with --settings or the"
                + " bench's demo settings (64x64, ViT-tiny + RN-tiny)")
        boolean demo;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--settings", paramLabel = "FILE",
            description = "DD settings (settings.txt / JSON / DiscoArt YAML) for --demo; clip_models must be demo CLIPs")
    Path settings;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "10",
            description = "guided steps to measure (default ${DEFAULT-VALUE}); the plan restarts from x_T after its last step")
    int steps;

    @Option(names = "--mode", paramLabel = "fast|dd", defaultValue = "fast",
            description = "fast: the engine's step only; dd: both, interleaved, with the ratio and the comparison")
    String mode;

    @Option(names = "--json", description = "print the report as JSON on stdout")
    boolean json;

    @Option(names = "--per-step", description = "print every step's stage times (the table shows means)")
    boolean perStep;

    @picocli.CommandLine.Mixin
    PerfFlags perfFlags = new PerfFlags();

    @Option(names = "--device", paramLabel = "cpu|cuda", defaultValue = "cpu", description = "default ${DEFAULT-VALUE}")
    String device;

    @Override
    public Integer call() {
        if (steps < 1) throw DiscoException.badInput("--steps: expected at least 1, got " + steps);
        if (!mode.equals("fast") && !mode.equals("dd")) throw DiscoException.badInput("--mode: expected fast or dd, got '" + mode + "'");
        if (settings != null && !source.demo) {
            throw DiscoException.badInput("--settings: expected together with --demo (a --reference directory has its own settings.json)");
        }
        Torch.init();
        Device dev = RunSupport.device(device);
        List<String> warnings = new ArrayList<>();
        PerfOptions perf = perfFlags.options(null, dev, warnings);
        disco.run.MemoryEstimate.recordBaseline();
        try (StepSetup setup = source.reference != null ? reference(source.reference, dev) : demo(dev, warnings)) {
            for (String w : warnings) System.err.println("disco: warning: " + w);
            StepBench.Result r = new StepBench(setup, perf, m -> System.err.println("disco: " + m))
                    .run(steps, mode.equals("dd"), System.err);
            if (json) {
                try {
                    System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                            .writeValueAsString(StepBench.toJson(r)));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            } else {
                StepBench.printTable(System.out, r, perStep);
            }
            return r.equivalent() ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
        }
    }

    private static StepSetup reference(Path dir, Device dev) {
        if (!Files.isDirectory(dir)) throw DiscoException.badInput("--reference: " + dir + ": expected a directory");
        return StepSetup.fromReference(dir, dev);
    }

    private StepSetup demo(Device dev, List<String> warnings) {
        Settings s;
        String label;
        if (settings != null) {
            if (!Files.isRegularFile(settings)) throw DiscoException.badInput("--settings: " + settings + ": no such file");
            SettingsIO.Loaded l = SettingsIO.load(settings, null);
            warnings.addAll(l.warnings());
            s = l.settings();
            label = settings.toString();
        } else {
            label = "bench demo settings";
            s = SettingsIO.build(SettingsIO.readResource(DEMO_SETTINGS, label, warnings), label, Set.of(), warnings);
        }
        return StepSetup.demo(s, label, dev);
    }
}
