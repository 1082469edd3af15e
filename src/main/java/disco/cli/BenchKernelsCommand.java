package disco.cli;

import java.io.PrintWriter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import disco.util.ExitCodes;
import disco.bench.KernelBench;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code disco bench kernels}: the native kernels vs LibTorch ops the way DD does it (see {@link KernelBench}). */
@Command(name = "kernels", mixinStandardHelpOptions = true,
        description = "Benchmark the native kernels against LibTorch ops doing DD's computation: a HxW image into 16"
                + " augmented cutouts (forward + adjoint) per cut size, and the guidance-gradient stage. Prints a"
                + " table (median ms, effective GB/s, ratio = libtorch / native) on stdout.")
public final class BenchKernelsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--height", defaultValue = "768", description = "image height (default ${DEFAULT-VALUE})")
    int height;

    @Option(names = "--width", defaultValue = "1280", description = "image width (default ${DEFAULT-VALUE})")
    int width;

    @Option(names = "--sizes", split = ",", defaultValue = "224,336", description = "cut sizes (default ${DEFAULT-VALUE})")
    int[] sizes;

    @Option(names = "--reps", defaultValue = "5", description = "timed repetitions per case, after one warm-up (default ${DEFAULT-VALUE})")
    int reps;

    @Option(names = "--threads", defaultValue = "0",
            description = "LibTorch intra-op threads for the CPU baseline (0 = LibTorch's default; the native CPU kernels use DISCO_KERNEL_THREADS, default the hardware's)")
    int threads;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda (default ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--baseline",
            description = "instead: the cutout stage of one step (DD's default cut schedule's two phases, --cutn-batches"
                    + " calls each, augmentations on, cut size = the first of --sizes), today's path (noise drawn in Java,"
                    + " the first CPU kernel) against the new one (noise generated in the kernels), interleaved rounds;"
                    + " CPU only")
    boolean baseline;

    @Option(names = "--rounds", defaultValue = "3", description = "with --baseline: interleaved rounds after one warm-up (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--cutn-batches", defaultValue = "4", description = "with --baseline: calls per phase (default ${DEFAULT-VALUE}, DD's cutn_batches)")
    int cutnBatches;

    @Override
    public Integer call() {
        if (height < 8 || width < 8) throw DiscoException.badInput("--height/--width: expected at least 8, got " + height + "x" + width);
        if (reps < 1) throw DiscoException.badInput("--reps: expected at least 1, got " + reps);
        for (int s : sizes) if (s < 8) throw DiscoException.badInput("--sizes: expected sizes of at least 8, got " + s);
        if (threads < 0) throw DiscoException.badInput("--threads: expected >= 0, got " + threads);
        Torch.init();
        if (threads > 0) torch.set_num_threads(threads);
        if (rounds < 1) throw DiscoException.badInput("--rounds: expected at least 1, got " + rounds);
        if (cutnBatches < 1) throw DiscoException.badInput("--cutn-batches: expected at least 1, got " + cutnBatches);
        Device dev = RunSupport.device(device);
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (baseline) {
            if (dev.is_cuda()) throw DiscoException.badInput("--baseline: the baseline kernel runs on the CPU only (use --device cpu)");
            String threadsEnv = System.getenv("DISCO_KERNEL_THREADS");
            List<KernelBench.StageRow> rows = new KernelBench(height, width, sizes, reps, dev)
                    .stageVsBaseline(sizes[0], cutnBatches, rounds, err);
            KernelBench.printStage(out, height + "x" + width + ", " + cutnBatches + " cutn batches of cuts of " + sizes[0]
                    + ", native threads " + (threadsEnv == null ? Runtime.getRuntime().availableProcessors() + " (hardware)" : threadsEnv)
                    + ", rounds " + rounds, rows);
            out.flush();
            err.flush();
            return ExitCodes.OK;
        }
        List<KernelBench.Row> rows = new KernelBench(height, width, sizes, reps, dev).run(err);
        KernelBench.print(out, device + ", libtorch threads " + torch.get_num_threads(), rows);
        out.flush();
        err.flush();
        return ExitCodes.OK;
    }
}
