package disco.bench;

import disco.kernels.CutDraws;
import disco.kernels.Cutouts;
import disco.kernels.CutSet;
import disco.kernels.CutSettings;
import disco.kernels.CutoutDrawer;
import disco.kernels.GradientStage;
import disco.torch.Tensors;
import disco.kernels.Kernels;
import disco.kernels.Losses;
import disco.kernels.TorchCutouts;
import disco.torch.Torch;
import disco.util.Compare;
import disco.util.RandomStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * {@code disco bench kernels}: DD's real case for the native kernels against the same computed with LibTorch ops
 * the way DD does it, in one run, on one device.
 * <ul>
 * <li>cutouts: a {@code 1 x 3 x H x W} image (default 768 x 1280) into DD's 16 cutouts (4 overview + 12 inner
 *     crops, cut_ic_pow 1, cut_icgray_p 0.2, DD's augmentations drawn once per batch) of size S (224 and 336):
 *     forward and adjoint (backward), native ({@code CutSet.forward/backward}) vs {@code TorchCutouts} (pad +
 *     ResizeRight-style gather resize + torchvision ops, autograd for the backward);</li>
 * <li>gradient stage: tv + range + sat losses, the masked sum of two models' gradients and DD's NaN check, then the
 *     RMS clamp, native ({@code GradientStage}) vs LibTorch ops + autograd as in DD's cond_fn.</li>
 * </ul>
 * Times are medians over the repetitions after one warm-up. "GB/s" is the effective bandwidth: the bytes a pass
 * must touch at least (image + cutouts for the cutout stage; inputs + output for the gradient stage) divided by
 * its time. "ratio" is LibTorch time / native time.
 */
public final class KernelBench {
    /** One printed row. */
    public record Row(String stage, String impl, double fwdMs, double bwdMs, double gbps, double ratio) {}

    private final int height, width, reps;
    private final int[] sizes;
    private final Device device;

    public KernelBench(int height, int width, int[] sizes, int reps, Device device) {
        this.height = height;
        this.width = width;
        this.sizes = sizes.clone();
        this.reps = reps;
        this.device = device;
    }

    public List<Row> run(PrintWriter log) {
        Torch.init();
        Kernels.init();
        List<Row> rows = new ArrayList<>();
        for (int s : sizes) {
            log.printf("bench: cutouts %dx%d -> 16 x %d ...%n", height, width, s);
            rows.addAll(cutouts(s));
        }
        log.println("bench: gradient stage ...");
        rows.addAll(gradientStage());
        return rows;
    }

    private Tensor onDevice(Tensor t) {
        return device.is_cuda() ? t.to(device, torch.ScalarType.Float) : t;
    }

    private void sync() {
        if (device.is_cuda()) torch.cuda_synchronize();
    }

    /** Median milliseconds of {@code op} over {@code reps} runs after one warm-up; each run in its own scope. */
    private double time(Supplier<Tensor> op) {
        try (PointerScope warm = new PointerScope()) {
            op.get();
            sync();
        }
        double[] ms = new double[reps];
        for (int r = 0; r < reps; r++) {
            try (PointerScope scope = new PointerScope()) {
                long t0 = System.nanoTime();
                op.get();
                sync();
                ms[r] = (System.nanoTime() - t0) / 1e6;
            }
        }
        Arrays.sort(ms);
        return ms[reps / 2];
    }

    private List<Row> cutouts(int size) {
        try (PointerScope scope = new PointerScope()) {
            RandomStream rs = RandomStream.of(1234, 0, 0, "bench", "cutouts");
            CutSet set = CutoutDrawer.draw(0, height, width, size, new CutSettings(4, 12, 1.0, 0.2, false, false),
                    CutDraws.of(rs));
            int k = set.cuts().size();
            Tensor image = onDevice(randn(rs.derive("image"), 1, 3, height, width));
            Tensor gradOut = onDevice(randn(rs.derive("grad"), k, 3, size, size));
            Tensor noise = set.noiseTensor();
            Tensor noiseDev = noise == null ? null : onDevice(noise);

            double nf = time(() -> set.forward(image));
            double nb = time(() -> set.backward(image, gradOut));
            double tf = time(() -> TorchCutouts.forward(image, set.cuts(), size, noiseDev));
            double tb = time(() -> TorchCutouts.backward(image, set.cuts(), size, noiseDev, gradOut));
            double bytes = 4.0 * (3.0 * height * width + (double) k * 3 * size * size);
            String stage = "cutouts " + k + "x" + size;
            return List.of(
                    new Row(stage, "native", nf, nb, 2 * bytes / ((nf + nb) * 1e6), (tf + tb) / (nf + nb)),
                    new Row(stage, "libtorch (DD way)", tf, tb, 2 * bytes / ((tf + tb) * 1e6), 1.0));
        }
    }

    private List<Row> gradientStage() {
        try (PointerScope scope = new PointerScope()) {
            RandomStream rs = RandomStream.of(1234, 0, 0, "bench", "stage");
            long[] shape = {1, 3, height, width};
            Tensor xIn = onDevice(randn(rs.derive("x"), shape).mul(new Scalar(1.2)));
            Tensor pred = onDevice(randn(rs.derive("pred"), shape).mul(new Scalar(1.2)));
            Tensor g0 = onDevice(randn(rs.derive("g0"), shape).mul(new Scalar(1e-4)));
            Tensor g1 = onDevice(randn(rs.derive("g1"), shape).mul(new Scalar(1e-4)));
            Tensor stacked = torch.stack(new TensorVector(g0, g1));
            boolean[] mask = {true, true};
            double cgs = 5000, tvs = 100, sats = 50, clampMax = 0.05;
            int cutn = 2;

            double nf = time(() -> GradientStage.compute(xIn, pred, stacked, mask, cgs, cutn, tvs, sats).xInGrad());
            Tensor someGrad = GradientStage.compute(xIn, pred, stacked, mask, cgs, cutn, tvs, sats).xInGrad();
            double nc = time(() -> GradientStage.clamp(someGrad, clampMax));

            double tf = time(() -> ddStage(xIn, pred, List.of(g0, g1), cgs / cutn, tvs, sats));
            double tc = time(() -> ddClamp(someGrad, clampMax));
            double n = 3.0 * height * width;
            double bytesStage = 4.0 * n * (2 + 2 + 1);  // x_in, pred, 2 model grads in; x_in_grad out
            double bytesClamp = 4.0 * n * 2;
            double nGbps = (bytesStage + bytesClamp) / ((nf + nc) * 1e6), tGbps = (bytesStage + bytesClamp) / ((tf + tc) * 1e6);
            String stage = "grad stage 1x3x" + height + "x" + width + " (2 models)";
            return List.of(new Row(stage, "native", nf, nc, nGbps, (tf + tc) / (nf + nc)),
                    new Row(stage, "libtorch (DD way)", tf, tc, tGbps, 1.0));
        }
    }

    /** One phase of DD's default cut schedule: per-call medians of today's path and the new one. */
    public record StageRow(String phase, int cuts, double baseDrawMs, double baseFwdMs, double baseBwdMs, double newFwdMs,
            double newBwdMs, double baseCpuMs, double newCpuMs, double maxRelDiffOut, double maxRelDiffGrad) {
        public double baseMs() {
            return baseDrawMs + baseFwdMs + baseBwdMs;
        }

        public double newMs() {
            return newFwdMs + newBwdMs;
        }
    }

    /** DD's default cut schedule's two phases (cut_overview [12]*400+[4]*600, cut_innercut [4]*400+[12]*600). */
    static final CutSettings[] DD_PHASES = {new CutSettings(12, 4, 1.0, 0.2, false, false),
            new CutSettings(4, 12, 1.0, 0.0, false, false)};

    /**
     * {@code --baseline}: the cutout stage of one step, {@code cutnBatches} calls per phase of DD's default
     * schedule, today's path against the new one in one run, interleaved round by round (the order alternating),
     * medians over {@code rounds} of the per-call time summed over the calls. Baseline = the path as it was before
     * the keyed kernels: the cuts drawn with the noise as values in Java ({@link #javaNoiseAsBefore}), copied into a
     * tensor for the forward and again for the backward, and the first CPU kernel (single-threaded, the backward
     * recomputing the forward). Both paths are first checked against each other on the same noise
     * ({@link CutSet#withJavaNoise}: bitwise equal cutouts and gradients). New = the cuts drawn with keyed noise, the noise generated inside the CPU twin,
     * the forward keeping each jitter op's input for the backward (what {@code NativeCutoutStage} runs). CPU only.
     * Besides wall time, the process CPU time of each path (all threads) is summed per round: on a shared
     * machine it is the steadier measure of the work done.
     */
    public List<StageRow> stageVsBaseline(int size, int cutnBatches, int rounds, PrintWriter log) {
        Torch.init();
        Kernels.init();
        if (device.is_cuda()) throw new IllegalArgumentException("--baseline: the baseline kernel runs on the CPU only");
        List<StageRow> rows = new ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            RandomStream rs = RandomStream.of(1234, 0, 0, "bench", "stage");
            Tensor image = randn(rs.derive("image"), 1, 3, height, width).mul(new Scalar(0.25)).add(new Scalar(0.5));
            for (CutSettings phase : DD_PHASES) {
                int k = phase.count();
                Tensor gradOut = randn(rs.derive("grad" + k), k, 3, size, size);
                double[][] t = new double[7][rounds];
                double[] diff = new double[2];
                try (PointerScope check = new PointerScope()) { // both paths give the same cutouts and gradient
                    CutSet keyed = CutoutDrawer.draw(0, height, width, size, phase, CutoutDrawer.drawsFor(1234, 0, 0, "bench", 0));
                    CutSet javaNoise = keyed.withJavaNoise();
                    Tensor st = keyed.newState(image);
                    diff[0] = Compare.maxRelErr(Tensors.toFloats(keyed.forward(image, st, 0)),
                            Tensors.toFloats(Cutouts.baselineForward(image, javaNoise.cuts(), size, javaNoise.noiseTensor())));
                    diff[1] = Compare.maxRelErr(Tensors.toFloats(keyed.backward(image, st, gradOut, 0)),
                            Tensors.toFloats(Cutouts.baselineBackward(image, javaNoise.cuts(), size, javaNoise.noiseTensor(), gradOut)));
                }
                for (int r = -1; r < rounds; r++) { // round -1 warms up
                    double[] base = new double[3], now = new double[2], cpu = new double[2];
                    boolean baseFirst = (r & 1) == 0;
                    for (int pass = 0; pass < 2; pass++) {
                        boolean doBase = (pass == 0) == baseFirst;
                        long c0 = cpuNanos();
                        for (int b = 0; b < cutnBatches; b++) {
                            try (PointerScope call = new PointerScope()) {
                                CutDraws draws = CutoutDrawer.drawsFor(1234, 0, Math.max(r, 0), "bench", b);
                                if (doBase) {
                                    long t0 = System.nanoTime();
                                    CutSet set = javaNoiseAsBefore(CutoutDrawer.draw(0, height, width, size, phase, draws));
                                    long t1 = System.nanoTime();
                                    Cutouts.baselineForward(image, set.cuts(), size, set.noiseTensor());
                                    long t2 = System.nanoTime();
                                    Cutouts.baselineBackward(image, set.cuts(), size, set.noiseTensor(), gradOut);
                                    long t3 = System.nanoTime();
                                    base[0] += (t1 - t0) / 1e6;
                                    base[1] += (t2 - t1) / 1e6;
                                    base[2] += (t3 - t2) / 1e6;
                                } else {
                                    long t0 = System.nanoTime();
                                    CutSet set = CutoutDrawer.draw(0, height, width, size, phase, draws);
                                    Tensor state = set.newState(image);
                                    set.forward(image, state, 0);
                                    long t1 = System.nanoTime();
                                    set.backward(image, state, gradOut, 0);
                                    long t2 = System.nanoTime();
                                    now[0] += (t1 - t0) / 1e6;
                                    now[1] += (t2 - t1) / 1e6;
                                }
                            }
                        }
                        cpu[doBase ? 0 : 1] += (cpuNanos() - c0) / 1e6;
                    }
                    if (r >= 0) {
                        t[0][r] = base[0];
                        t[1][r] = base[1];
                        t[2][r] = base[2];
                        t[3][r] = now[0];
                        t[4][r] = now[1];
                        t[5][r] = cpu[0];
                        t[6][r] = cpu[1];
                        log.printf("bench: %d overview + %d inner, round %d: baseline %.0f ms, new %.0f ms%n",
                                phase.overview(), phase.innerCut(), r + 1, base[0] + base[1] + base[2], now[0] + now[1]);
                    }
                }
                rows.add(new StageRow(phase.overview() + " overview + " + phase.innerCut() + " inner", k, median(t[0]),
                        median(t[1]), median(t[2]), median(t[3]), median(t[4]), median(t[5]), median(t[6]), diff[0], diff[1]));
            }
        }
        return rows;
    }

    /** CPU time of the whole process (every thread: the kernels' own, Java's parallel draw, the JVM's). */
    private static long cpuNanos() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean s ? s.getProcessCpuTime() : 0L;
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }

    /**
     * The set with its noise drawn as values in Java the way the engine drew it before the keyed kernels (the
     * code as it was, kept as the baseline's first half): one Box–Muller cosine per two stream positions, in
     * parallel chunks. Today's noise ({@link CutDraws#parallelGaussians}) uses both outputs of the transform; the
     * values differ, the work the baseline kernel does with them does not.
     */
    static CutSet javaNoiseAsBefore(CutSet set) {
        CutSet.KeyedNoise k = set.keyed();
        if (k == null) return set;
        float[] out = new float[Math.toIntExact(k.count())];
        RandomStream stream = RandomStream.ofKey(k.key());
        final int chunk = 1 << 16;
        java.util.stream.IntStream.range(0, (out.length + chunk - 1) / chunk).parallel().forEach(c -> {
            for (int i = c * chunk, end = Math.min(out.length, (c + 1) * chunk); i < end; i++) {
                long p = k.start() + 2L * i;
                double u1 = 1.0 - (stream.at(p) >>> 11) * 0x1.0p-53;
                double u2 = (stream.at(p + 1) >>> 11) * 0x1.0p-53;
                out[i] = (float) (Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2));
            }
        });
        return new CutSet(set.cuts(), set.size(), out, null);
    }

    /** The {@code --baseline} table. */
    public static void printStage(PrintWriter out, String what, List<StageRow> rows) {
        out.printf("# disco bench kernels --baseline: %s (median over rounds of the ms summed over the calls of a step)%n", what);
        out.printf("%-24s %5s %9s %9s %9s %10s %9s %9s %10s %7s %9s %9s %7s %10s %10s%n", "phase", "cuts", "base_draw",
                "base_fwd", "base_bwd", "base_total", "new_fwd", "new_bwd", "new_total", "ratio", "base_cpu", "new_cpu",
                "cpu_rat", "diff_out", "diff_grad");
        double bt = 0, nt = 0, bc = 0, nc = 0;
        for (StageRow r : rows) {
            out.printf("%-24s %5d %9.1f %9.1f %9.1f %10.1f %9.1f %9.1f %10.1f %6.2fx %9.1f %9.1f %6.2fx %10.2e %10.2e%n",
                    r.phase(), r.cuts(), r.baseDrawMs(), r.baseFwdMs(), r.baseBwdMs(), r.baseMs(), r.newFwdMs(),
                    r.newBwdMs(), r.newMs(), r.baseMs() / r.newMs(), r.baseCpuMs(), r.newCpuMs(),
                    r.baseCpuMs() / r.newCpuMs(), r.maxRelDiffOut(), r.maxRelDiffGrad());
            bt += r.baseMs();
            nt += r.newMs();
            bc += r.baseCpuMs();
            nc += r.newCpuMs();
        }
        out.printf("%-24s %5s %9s %9s %9s %10.1f %9s %9s %10.1f %6.2fx %9.1f %9.1f %6.2fx%n", "both phases", "", "", "", "",
                bt, "", "", nt, bt / nt, bc, nc, bc / nc);
    }

    /** DD's cond_fn tail with LibTorch ops: x_in_grad from the model grads, tv/range/sat by autograd, isnan. */
    static Tensor ddStage(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipScale, double tvs, double sats) {
        Tensor x = xIn.detach().requires_grad_(true);
        Tensor grad = torch.zeros_like(x);
        for (Tensor g : modelGrads) grad = grad.add(g.mul(new Scalar(clipScale)));
        Tensor tv = ddTv(x);
        Tensor range = pred.sub(torch.clamp(pred, new ScalarOptional(new Scalar(-1.0)), new ScalarOptional(new Scalar(1.0))))
                .square().mean(new long[] {1, 2, 3}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
        Tensor sat = x.sub(torch.clamp(x, new ScalarOptional(new Scalar(-1.0)), new ScalarOptional(new Scalar(1.0)))).abs().mean();
        Tensor loss = tv.sum().mul(new Scalar(tvs)).add(range.sum().mul(new Scalar(150.0))).add(sat.mul(new Scalar(sats)));
        loss.backward();
        grad = grad.add(x.grad());
        boolean nan = grad.isnan().any().item_bool();
        return nan ? torch.zeros_like(grad) : grad;
    }

    /** DD's tv_loss: replicate pad right/bottom (as concatenation of the edge), differences, mean over C,H,W. */
    static Tensor ddTv(Tensor x) {
        long h = x.size(2), w = x.size(3);
        Tensor p = torch.cat(new TensorVector(x, x.narrow(3, w - 1, 1)), 3);
        p = torch.cat(new TensorVector(p, p.narrow(2, h - 1, 1)), 2);
        Tensor base = p.narrow(2, 0, h).narrow(3, 0, w);
        Tensor xd = p.narrow(2, 0, h).narrow(3, 1, w).sub(base);
        Tensor yd = p.narrow(2, 1, h).narrow(3, 0, w).sub(base);
        return xd.square().add(yd.square()).mean(new long[] {1, 2, 3}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
    }

    /** DD: magnitude = grad.square().mean().sqrt(); grad * magnitude.clamp(max=clamp_max) / magnitude. */
    static Tensor ddClamp(Tensor grad, double clampMax) {
        Tensor mag = grad.square().mean().sqrt();
        return grad.mul(torch.clamp(mag, new ScalarOptional(), new ScalarOptional(new Scalar(clampMax)))).div(mag);
    }

    private static Tensor randn(RandomStream rs, long... shape) {
        long count = 1;
        for (long s : shape) count *= s;
        float[] a = new float[Math.toIntExact(count)];
        rs.fillGaussian(a);
        return Tensors.fromFloats(a, shape);
    }

    /** The table, one row per implementation and stage. */
    public static void print(PrintWriter out, String deviceName, List<Row> rows) {
        out.printf("# disco bench kernels on %s (median ms; fwd = forward, bwd = adjoint; for the gradient stage fwd = stage, bwd = clamp)%n", deviceName);
        out.printf("%-36s %-18s %10s %10s %10s %9s %8s%n", "stage", "impl", "fwd_ms", "bwd_ms", "total_ms", "GB/s", "ratio");
        for (Row r : rows) {
            out.printf("%-36s %-18s %10.3f %10.3f %10.3f %9.3f %8.2f%n", r.stage(), r.impl(), r.fwdMs(), r.bwdMs(),
                    r.fwdMs() + r.bwdMs(), r.gbps(), r.ratio());
        }
    }
}
