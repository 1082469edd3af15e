package disco.cli;

import disco.util.ExitCodes;
import disco.torch.Autocast;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import disco.bench.Memory;
import disco.bench.PassBench;
import disco.run.PerfOptions;
import disco.torch.Precision;
import disco.bench.StepSetup;
import disco.guidance.ClipGuidance;
import disco.models.clip.ClipModel;
import disco.plan.PlanStep;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;

/** {@code disco bench passes}: each network's forward and backward alone (see {@link PassBench}). */
@Command(name = "passes", mixinStandardHelpOptions = true,
        description = {"Time each network of a guided step alone: forward without grad, forward with grad and the"
                + " backward to its input, for the UNet, the secondary model and each CLIP image tower, at the shapes a"
                + " step feeds them. bench/passes.py times the same passes with PyTorch on upstream code."})
public final class BenchPassesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--reference", paramLabel = "DIR", required = true,
            description = "a reference directory (settings.json, unet.pt/unet.json, clip-<name>.pt, secondary.pt)")
    Path reference;

    @Option(names = "--reps", paramLabel = "N", defaultValue = "3",
            description = "timed repetitions of each pass after one warm-up (default ${DEFAULT-VALUE})")
    int reps;

    @Option(names = "--cuts", paramLabel = "N", defaultValue = "0",
            description = "images per CLIP call (0 = one cutn batch of the plan's first step: overview + innercut)")
    int cuts;

    @Option(names = "--networks", paramLabel = "LIST", split = ",", defaultValue = "unet,secondary,clip",
            description = "which networks: unet, secondary, clip (default ${DEFAULT-VALUE})")
    List<String> networks;

    @picocli.CommandLine.Mixin
    PerfFlags perfFlags = new PerfFlags();

    @Option(names = "--json", description = "print the report as JSON on stdout")
    boolean json;

    @Override
    public Integer call() {
        if (reps < 1) throw DiscoException.badInput("--reps: expected at least 1, got " + reps);
        if (cuts < 0) throw DiscoException.badInput("--cuts: expected >= 0, got " + cuts);
        for (String n : networks) {
            if (!List.of("unet", "secondary", "clip").contains(n)) {
                throw DiscoException.badInput("--networks: expected unet, secondary or clip, got '" + n + "'");
            }
        }
        if (!Files.isDirectory(reference)) throw DiscoException.badInput("--reference: " + reference + ": expected a directory");
        Torch.init();
        Device dev = new Device("cpu");
        PerfOptions perf = perfFlags.options(null, dev, new ArrayList<>());
        Precision prec = perf.precision();
        perf.applyGlobal(dev);
        boolean withSecondary = networks.contains("secondary");
        try (StepSetup setup = StepSetup.fromReference(reference, dev, withSecondary)) {
            PerfOptions.Layout cl = perf.channelsLast();
            disco.run.Pipeline.prepareNetwork(setup.unet, "unet", perf);
            if (setup.secondary != null) disco.run.Pipeline.prepareNetwork(setup.secondary, "secondary", perf);
            for (ClipModel c : setup.clips.values()) disco.run.Pipeline.prepareNetwork(c, disco.run.Pipeline.kind(c), perf);
            PlanStep first = setup.plan.steps().get(0);
            int n = cuts > 0 ? cuts : first.overview() + first.innercut();
            PassBench b = new PassBench(reps, dev);
            java.util.function.Function<String, Function<Tensor, Tensor>> layoutOf = net -> x -> cl.forNetwork(net) && x.dim() == 4
                    ? x.contiguous(torch.MemoryFormat.ChannelsLast) : x;
            List<PassBench.Pass> ps = new ArrayList<>();
            // the model time of the plan's first step: t on the 1000-step scale for the UNet, DD's cosine t for the secondary
            double tUnet = first.t() * 1000.0 / setup.alphas.originalSteps();
            if (networks.contains("unet")) ps.addAll(precise(prec, dev, () -> b.unet(setup.unet, setup.height, setup.width, tUnet, layoutOf.apply("unet"))));
            if (withSecondary) ps.addAll(precise(prec, dev, () -> b.secondary(setup.secondary, setup.height, setup.width, 0.5, layoutOf.apply("secondary"))));
            if (networks.contains("clip")) {
                for (Map.Entry<String, ClipModel> e : setup.clips.entrySet()) {
                    ps.addAll(precise(prec, dev, () -> b.clip(e.getKey(), e.getValue(), n, layoutOf.apply(disco.run.Pipeline.kind(e.getValue())))));
                }
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("engine", "disco");
            out.put("reference", reference.toString());
            out.put("options", perf.toJson());
            out.put("threads", torch.get_num_threads());
            out.put("cuts", n);
            out.put("size", List.of(setup.width, setup.height));
            out.put("reps", reps);
            Map<String, Object> passes = new LinkedHashMap<>();
            for (PassBench.Pass p : ps) {
                passes.put(p.name(), Map.of("median_ms", p.medianMs(), "median_cpu_ms", p.medianCpuMs(), "ms", p.ms()));
            }
            out.put("passes", passes);
            out.put("peak_rss_kb", Memory.peakRssKb());
            PrintWriter o = spec.commandLine().getOut();
            if (json) {
                try {
                    o.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            } else {
                o.printf("%-28s %12s %12s%n", "pass", "median ms", "cpu ms");
                for (PassBench.Pass p : ps) o.printf("%-28s %12.1f %12.1f%n", p.name(), p.medianMs(), p.medianCpuMs());
            }
            o.flush();
            return ExitCodes.OK;
        }
    }

    private static List<PassBench.Pass> precise(Precision p, Device dev, java.util.function.Supplier<List<PassBench.Pass>> f) {
        try (disco.torch.Autocast ac = disco.torch.Autocast.enter(dev, p)) {
            return f.get();
        }
    }
}
