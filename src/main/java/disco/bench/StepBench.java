package disco.bench;

import disco.guidance.TorchCutoutStage;
import disco.torch.Autocast;
import disco.torch.Precision;
import disco.run.Residency;
import disco.run.PerfOptions;
import disco.guidance.ImageEncoder;
import disco.guidance.NativeCutoutStage;
import disco.guidance.NativeLossKernels;
import disco.guidance.TorchLossKernels;
import disco.models.clip.ClipModel;
import disco.util.Compare;
import disco.sampling.Denoiser;
import disco.sampling.EpsDenoiser;
import disco.sampling.Guidance;
import disco.sampling.NoiseSource;
import disco.sampling.Sampler;
import disco.sampling.SamplerState;
import disco.sampling.StepOutput;
import disco.torch.Tensors;
import disco.sampling.XStartDenoiser;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code disco bench step}: guided sampling steps on one set of networks, timed stage by stage.
 *
 * <p>{@link Mode#FAST} is the engine's step: one UNet forward with grad per step, reused by the sampler and pulled
 * back by the guidance; all cutn batches of a CLIP model in one encoder call (forward and backward); the native
 * cutout kernels. {@link Mode#DD} is the same step the way Disco Diffusion runs it: the sampler's UNet forward without
 * grad and the guidance's second forward with grad at the same (x, t); one CLIP call per cutn batch; the cutouts with
 * LibTorch ops and autograd. Both start from the same x_T with the same random streams; run together they are
 * interleaved step by step (so machine noise hits both alike), their samples compared after every step.
 *
 * <p>After the plan's last step the sampler starts again from x_T, so any number of steps can be measured (e.g. 200
 * for the memory check: resident memory after 200 steps against after 20).
 */
public final class StepBench {
    public enum Mode {
        FAST("fast"), DD("dd");

        public final String label;

        Mode(String label) {
            this.label = label;
        }
    }

    /** In float32, samples of the two modes must agree to this (max |fast - dd| / max |dd|). */
    public static final double EQUIVALENCE_TOL = 1e-5;
    /**
     * In float16 / bfloat16 the two modes round differently (different CLIP batch shapes, kernels): they must agree
     * to the reduced-precision guidance floor instead.
     */
    public static final double LOW_PRECISION_TOL = 2e-2;

    /** The agreement required of the two modes at a precision. */
    public static double tolerance(Precision p) {
        return p == Precision.FP32 ? EQUIVALENCE_TOL : LOW_PRECISION_TOL;
    }
    /** Resident memory after the last step may exceed that after step 20 by at most this fraction. */
    public static final double RSS_GROWTH_LIMIT = 0.05;
    public static final int RSS_FIRST = 20;

    /** One measured step of one mode. */
    public record StepRecord(String mode, int iteration, int step, int index, long totalNanos, long cpuNanos,
                             Map<String, Long> nanos, Map<String, Long> counts, long rssKb, long heapCommittedKb,
                             long gpuBytes) {}

    /** Everything a bench run measured. */
    public record Result(String source, String device, int threads, PerfOptions perf, Map<String, Object> options, int planSteps, List<Mode> modes,
                         List<StepRecord> records, List<Residency.StepResidency> residency, double maxRelDiff,
                         long rssAtFirstKb, long rssLastKb, long peakRssKb, long gpuPeakBytes, long heapAtFirstKb,
                         long heapLastKb, Map<String, float[]> lastSamples, long loadPeakRssKb, long estimatedPeakBytes) {
        public List<StepRecord> of(Mode m) {
            return records.stream().filter(r -> r.mode().equals(m.label)).toList();
        }

        /** Median step time of a mode in ms, the first step (warm-up) left out when there are more. */
        public double medianMs(Mode m) {
            List<StepRecord> rs = of(m);
            if (rs.size() > 1) rs = rs.subList(1, rs.size());
            double[] t = rs.stream().mapToDouble(r -> r.totalNanos() / 1e6).sorted().toArray();
            if (t.length == 0) return Double.NaN;
            return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
        }

        /**
         * Median process CPU time per step of a mode in ms (all threads; first step left out when there are more):
         * unlike wall time it does not count the time the process waited for a core on a shared machine.
         */
        public double medianCpuMs(Mode m) {
            List<StepRecord> rs = of(m);
            if (rs.size() > 1) rs = rs.subList(1, rs.size());
            double[] t = rs.stream().mapToDouble(r -> r.cpuNanos() / 1e6).sorted().toArray();
            if (t.length == 0) return Double.NaN;
            return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
        }

        /** dd / fast median process CPU time per step, NaN unless both ran. */
        public double cpuRatio() {
            return modes.size() == 2 ? medianCpuMs(Mode.DD) / medianCpuMs(Mode.FAST) : Double.NaN;
        }

        /** Mean ms per step of each stage (first step left out when there are more). */
        public Map<String, Double> meanStageMs(Mode m) {
            List<StepRecord> rs = of(m);
            if (rs.size() > 1) rs = rs.subList(1, rs.size());
            Map<String, Double> out = new LinkedHashMap<>();
            for (StepRecord r : rs) r.nanos().forEach((k, v) -> out.merge(k, v / 1e6, Double::sum));
            int n = rs.size();
            out.replaceAll((k, v) -> v / n);
            return out;
        }

        /** Mean count per step. */
        public Map<String, Double> meanCounts(Mode m) {
            List<StepRecord> rs = of(m);
            Map<String, Double> out = new LinkedHashMap<>();
            for (StepRecord r : rs) r.counts().forEach((k, v) -> out.merge(k, (double) v, Double::sum));
            int n = rs.size();
            out.replaceAll((k, v) -> v / n);
            return out;
        }

        /** Whether the modes agree to {@link #tolerance} (true when only one ran). */
        public boolean equivalent() {
            return modes.size() < 2 || maxRelDiff < tolerance(perf.precision());
        }

        /** dd median / fast median, NaN unless both ran. */
        public double ratio() {
            return modes.size() == 2 ? medianMs(Mode.DD) / medianMs(Mode.FAST) : Double.NaN;
        }

        /** (RSS after the last step - RSS after step 20) / RSS after step 20; NaN with fewer steps. */
        public double rssGrowth() {
            return rssAtFirstKb > 0 && rssLastKb > 0 ? (rssLastKb - rssAtFirstKb) / (double) rssAtFirstKb : Double.NaN;
        }
    }

    private final StepSetup setup;
    private final PerfOptions perf;
    private final Consumer<String> log;

    public StepBench(StepSetup setup, PerfOptions perf, Consumer<String> log) {
        this.setup = setup;
        this.perf = perf;
        this.log = log == null ? m -> {} : log;
    }

    /** One mode's sampler over the setup's pipeline (the factory disco run uses), every stage instrumented. */
    public static final class ModeRun {
        public final Mode mode;
        final Instrument instr;
        public final Sampler sampler;
        private final StepSetup setup;
        SamplerState state;

        /** @param pipeline the setup's pipeline (its networks, plan and options) */
        public ModeRun(StepSetup setup, disco.run.Pipeline pipeline, Mode mode) {
            this.setup = setup;
            this.mode = mode;
            this.instr = new Instrument(setup.device);
            disco.run.Pipeline.Stages st = mode == Mode.DD ? disco.run.Pipeline.Stages.DD : disco.run.Pipeline.Stages.FAST;
            this.sampler = pipeline.sampler(st, setup.seed, pipeline.noise(setup.seed), instr);
        }

        void restart() {
            if (state != null) state.close();
            state = sampler.start(new long[] {1, 3, setup.height, setup.width}, null);
        }
    }

    /**
     * Runs {@code steps} steps of each mode ({@code withDd}: fast and dd interleaved, else fast only).
     *
     * @param progress where a line per step goes (stderr in the CLI), or null
     */
    public Result run(int steps, boolean withDd, PrintStream progress) {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1");
        disco.run.Pipeline pipeline = setup.pipeline(perf, log);
        List<Mode> modes = withDd ? List.of(Mode.FAST, Mode.DD) : List.of(Mode.FAST);
        List<ModeRun> ps = new ArrayList<>();
        for (Mode m : modes) ps.add(new ModeRun(setup, pipeline, m));
        Residency residency = pipeline.residency();
        long estimated = disco.run.MemoryEstimate.estimate(disco.run.MemoryEstimate.inputs(pipeline), pipeline.clipBatch())
                .peak().total();
        long loadPeak = Memory.peakRssKb();
        Memory.resetPeak(); // from here VmHWM is the peak of the steps
        List<StepRecord> records = new ArrayList<>();
        List<Residency.StepResidency> res = new ArrayList<>();
        double maxRel = 0;
        long rssFirst = -1;
        long heapFirst = -1;
        long gpuPeak = -1;
        int planSteps = ps.get(0).sampler.stepsToRun();
        Map<String, float[]> lastSamples = new LinkedHashMap<>();
        try {
            for (int it = 0; it < steps; it++) {
                if (ps.get(0).state == null || ps.get(0).sampler.done(ps.get(0).state)) {
                    for (ModeRun p : ps) p.restart();
                }
                int j = ps.get(0).state.stepsDone();
                res.add(residency.before(j));
                List<Tensor> samples = new ArrayList<>();
                for (ModeRun p : ps) {
                    StepStats st = new StepStats();
                    p.instr.begin(st);
                    p.instr.sync();
                    long c0 = processCpuNanos();
                    long t0 = System.nanoTime();
                    StepOutput out = p.sampler.step(p.state);
                    p.instr.sync();
                    st.finish(System.nanoTime() - t0);
                    long cpu = processCpuNanos() - c0;
                    out.close();
                    p.state.close();
                    p.state = out.state();
                    samples.add(p.state.x());
                    long[] gpu = Memory.gpuAllocatedBytes(setup.device);
                    gpuPeak = Math.max(gpuPeak, gpu[1]);
                    records.add(new StepRecord(p.mode.label, it, out.step(), out.index(), st.totalNanos(), cpu,
                            Map.copyOf(st.nanos()), Map.copyOf(st.counts()), Memory.rssKb(), Memory.heapCommittedKb(), gpu[0]));
                }
                if (samples.size() == 2) {
                    try (PointerScope scope = new PointerScope()) {
                        maxRel = Math.max(maxRel, Compare.maxRelErr(Tensors.toFloats(samples.get(0).cpu()),
                                Tensors.toFloats(samples.get(1).cpu())));
                    }
                }
                if (it + 1 == RSS_FIRST) {
                    rssFirst = Memory.rssKb();
                    heapFirst = Memory.heapCommittedKb();
                }
                if (progress != null) {
                    StringBuilder sb = new StringBuilder("bench: step " + (it + 1) + "/" + steps + " (plan step " + j + ")");
                    for (int k = 0; k < ps.size(); k++) {
                        StepRecord r = records.get(records.size() - ps.size() + k);
                        sb.append(String.format("  %s %.1f ms", r.mode(), r.totalNanos() / 1e6));
                    }
                    progress.println(sb);
                }
            }
            for (ModeRun p : ps) {
                try (PointerScope scope = new PointerScope()) {
                    lastSamples.put(p.mode.label, Tensors.toFloats(p.state.x().cpu()));
                }
            }
        } finally {
            for (ModeRun p : ps) if (p.state != null) p.state.close();
        }
        long rssLast = steps >= RSS_FIRST ? Memory.rssKb() : -1;
        long heapLast = steps >= RSS_FIRST ? Memory.heapCommittedKb() : -1;
        return new Result(setup.source, setup.device.is_cuda() ? "cuda" : "cpu", torch.get_num_threads(), perf, pipeline.describe(),
                planSteps, modes, records, res, withDd ? maxRel : Double.NaN, rssFirst, rssLast, Memory.peakRssKb(),
                gpuPeak, heapFirst, heapLast, lastSamples, loadPeak, estimated);
    }

    /**
     * Times {@code steps} executed steps of a pipeline built elsewhere (the calibration of {@code disco plan} /
     * {@code disco sweep --dry-run --estimate}): the pipeline's own stages, stage by stage as {@code disco bench step}
     * times them, from x_T of {@code seed} with the batch of {@code batchSize} images of {@code width x height};
     * after the plan's last step it starts again from x_T.
     */
    public static List<StepRecord> timeSteps(disco.run.Pipeline pipeline, long seed, int batchSize, int width, int height,
                                             int steps) {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1");
        Instrument instr = new Instrument(pipeline.device());
        disco.run.Pipeline.Stages st = "dd".equals(pipeline.describe().get("stages"))
                ? disco.run.Pipeline.Stages.DD : disco.run.Pipeline.Stages.FAST;
        Sampler sampler = pipeline.sampler(st, seed, pipeline.noise(seed), instr);
        List<StepRecord> records = new ArrayList<>();
        SamplerState state = null;
        try {
            for (int it = 0; it < steps; it++) {
                if (state == null || sampler.done(state)) {
                    if (state != null) state.close();
                    state = sampler.start(new long[] {batchSize, 3, height, width}, null);
                }
                StepStats stats = new StepStats();
                instr.begin(stats);
                instr.sync();
                long c0 = processCpuNanos();
                long t0 = System.nanoTime();
                StepOutput out = sampler.step(state);
                instr.sync();
                stats.finish(System.nanoTime() - t0);
                long cpu = processCpuNanos() - c0;
                out.close();
                state.close();
                state = out.state();
                records.add(new StepRecord(Mode.FAST.label, it, out.step(), out.index(), stats.totalNanos(), cpu,
                        Map.copyOf(stats.nanos()), Map.copyOf(stats.counts()), Memory.rssKb(), Memory.heapCommittedKb(), -1));
            }
        } finally {
            if (state != null) state.close();
        }
        return records;
    }

    /** CPU time of this process, all threads (-1 where the JVM does not say). */
    public static long processCpuNanos() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : -1;
    }

    static String[] stageOrder(Result r) {
        List<String> keys = new ArrayList<>(List.of("unet.forward", "unet.backward", "secondary.forward",
                "secondary.backward"));
        for (StepRecord rec : r.records()) {
            for (String k : rec.nanos().keySet()) if (k.startsWith("clip.") && !keys.contains(k)) keys.add(k);
        }
        keys.addAll(List.of("cutouts", "gradient", "sampler"));
        return keys.toArray(String[]::new);
    }

    /** The human-readable report. */
    public static void printTable(PrintStream out, Result r, boolean perStep) {
        PerfOptions p = r.perf();
        out.printf("disco bench step: %s%n", r.source());
        StringBuilder opts = new StringBuilder();
        r.options().forEach((k, v) -> opts.append(opts.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
        out.printf("options: %s%n", opts);
        int n = r.of(r.modes().get(0)).size();
        out.printf("%d steps measured (the plan has %d executed steps; it restarts from x_T after the last)%n%n", n,
                r.planSteps());
        String[] stages = stageOrder(r);
        out.printf("%-26s", "ms per step (mean)");
        for (Mode m : r.modes()) out.printf("%14s", m.label);
        out.println();
        for (String s : stages) {
            boolean any = false;
            for (Mode m : r.modes()) any |= r.meanStageMs(m).containsKey(s);
            if (!any) continue;
            out.printf("%-26s", s);
            for (Mode m : r.modes()) out.printf("%14.2f", r.meanStageMs(m).getOrDefault(s, 0.0));
            out.println();
        }
        out.printf("%-26s", "step (median)");
        for (Mode m : r.modes()) out.printf("%14.2f", r.medianMs(m));
        out.println();
        out.printf("%-26s", "step CPU time (median)");
        for (Mode m : r.modes()) out.printf("%14.2f", r.medianCpuMs(m));
        out.println();
        out.printf("%n%-26s", "per step (mean)");
        for (Mode m : r.modes()) out.printf("%14s", m.label);
        out.println();
        for (String c : StepStats.COUNTS) {
            boolean any = false;
            for (Mode m : r.modes()) any |= r.meanCounts(m).getOrDefault(c, 0.0) > 0;
            if (!any) continue;
            out.printf("%-26s", c.replace('_', ' '));
            for (Mode m : r.modes()) out.printf("%14.2f", r.meanCounts(m).getOrDefault(c, 0.0));
            out.println();
        }
        out.println();
        if (r.modes().size() == 2) {
            out.printf("speed-up fast vs dd: %.2fx (median wall time per step), %.2fx (median process CPU time per step)%n",
                    r.ratio(), r.cpuRatio());
            out.printf("max relative difference of the samples, fast vs dd: %.3g (limit %.0e) %s%n", r.maxRelDiff(),
                    tolerance(p.precision()), r.equivalent() ? "OK" : "FAIL");
        }
        if (r.rssAtFirstKb() > 0) {
            out.printf("resident memory after step %d: %.1f MiB, after step %d: %.1f MiB (%+.2f%%, limit +%.0f%%) %s%n",
                    RSS_FIRST, r.rssAtFirstKb() / 1024.0, n, r.rssLastKb() / 1024.0, 100 * r.rssGrowth(),
                    100 * RSS_GROWTH_LIMIT, r.rssGrowth() <= RSS_GROWTH_LIMIT ? "OK" : "FAIL");
            out.printf("  of which JVM heap committed: %.1f MiB after step %d, %.1f MiB after step %d (a heap that may grow"
                            + " counts in RSS; fix it with -Xms = -Xmx and -XX:+AlwaysPreTouch in DISCO_JAVA_OPTS)%n",
                    r.heapAtFirstKb() / 1024.0, RSS_FIRST, r.heapLastKb() / 1024.0, n);
        }
        out.printf("peak resident memory during the steps: %.1f MiB (loading peaked at %.1f MiB); estimated peak of a step:"
                + " %.1f MiB (%+.0f%%)%n", r.peakRssKb() / 1024.0, r.loadPeakRssKb() / 1024.0,
                r.estimatedPeakBytes() / 1048576.0, 100.0 * (r.estimatedPeakBytes() / 1024.0 - r.peakRssKb()) / r.peakRssKb());
        if (r.gpuPeakBytes() >= 0) out.printf("peak GPU memory (LibTorch allocator): %.1f MiB%n", r.gpuPeakBytes() / 1048576.0);
        out.println();
        out.println("resident CLIP models per step" + (p.offloadInactive() ? " (offload-inactive" : " (no offload")
                + (r.device().equals("cpu") ? "; on the CPU the moves are bookkeeping only)" : ")"));
        int shown = Math.min(r.residency().size(), perStep ? r.residency().size() : r.planSteps());
        for (int i = 0; i < shown; i++) {
            Residency.StepResidency s = r.residency().get(i);
            out.printf("  step %3d: %-30s %10.2f MiB%s%s%n", s.step(), String.join(", ", s.resident()),
                    s.residentBytes() / 1048576.0, s.movedIn().isEmpty() ? "" : "  in: " + String.join(", ", s.movedIn()),
                    s.movedOut().isEmpty() ? "" : "  out: " + String.join(", ", s.movedOut()));
        }
        if (perStep) {
            out.println();
            out.printf("%-6s %-5s %5s %5s %10s", "mode", "iter", "step", "index", "total ms");
            for (String s : stages) out.printf(" %14s", s);
            out.printf(" %10s%n", "rss MiB");
            for (StepRecord rec : r.records()) {
                out.printf("%-6s %-5d %5d %5d %10.2f", rec.mode(), rec.iteration(), rec.step(), rec.index(),
                        rec.totalNanos() / 1e6);
                for (String s : stages) out.printf(" %14.2f", rec.nanos().getOrDefault(s, 0L) / 1e6);
                out.printf(" %10.1f%n", rec.rssKb() / 1024.0);
            }
        }
    }

    private static String onOff(boolean b) {
        return b ? "on" : "off";
    }

    /** The machine-readable report (see bench/README.md for its fields). */
    public static Map<String, Object> toJson(Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", r.source());
        m.put("device", r.device());
        m.put("threads", r.threads());
        PerfOptions p = r.perf();
        m.put("options", r.options());
        m.put("plan_steps", r.planSteps());
        Map<String, Object> modes = new LinkedHashMap<>();
        for (Mode mode : r.modes()) {
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("median_step_ms", r.medianMs(mode));
            mm.put("median_step_cpu_ms", r.medianCpuMs(mode));
            mm.put("mean_stage_ms", r.meanStageMs(mode));
            mm.put("mean_counts", r.meanCounts(mode));
            List<Map<String, Object>> steps = new ArrayList<>();
            for (StepRecord rec : r.of(mode)) {
                Map<String, Object> s = new LinkedHashMap<>();
                s.put("iteration", rec.iteration());
                s.put("step", rec.step());
                s.put("index", rec.index());
                s.put("total_ms", rec.totalNanos() / 1e6);
                s.put("cpu_ms", rec.cpuNanos() / 1e6);
                Map<String, Double> st = new LinkedHashMap<>();
                for (String k : stageOrder(r)) if (rec.nanos().containsKey(k)) st.put(k, rec.nanos().get(k) / 1e6);
                s.put("stages_ms", st);
                s.put("counts", new LinkedHashMap<>(rec.counts()));
                s.put("rss_kb", rec.rssKb());
                s.put("jvm_heap_committed_kb", rec.heapCommittedKb());
                if (rec.gpuBytes() >= 0) s.put("gpu_allocated_bytes", rec.gpuBytes());
                steps.add(s);
            }
            mm.put("steps", steps);
            modes.put(mode.label, mm);
        }
        m.put("modes", modes);
        if (r.modes().size() == 2) {
            m.put("speedup", r.ratio());
            m.put("speedup_cpu_time", r.cpuRatio());
            m.put("max_rel_diff", r.maxRelDiff());
            m.put("tolerance", tolerance(p.precision()));
            m.put("equivalent", r.equivalent());
        }
        Map<String, Object> mem = new LinkedHashMap<>();
        mem.put("peak_rss_kb", r.peakRssKb());
        mem.put("load_peak_rss_kb", r.loadPeakRssKb());
        mem.put("estimated_peak_bytes", r.estimatedPeakBytes());
        if (r.rssAtFirstKb() > 0) {
            mem.put("rss_after_step_" + RSS_FIRST + "_kb", r.rssAtFirstKb());
            mem.put("rss_after_last_step_kb", r.rssLastKb());
            mem.put("rss_growth", r.rssGrowth());
            mem.put("rss_flat", r.rssGrowth() <= RSS_GROWTH_LIMIT);
            mem.put("jvm_heap_committed_after_step_" + RSS_FIRST + "_kb", r.heapAtFirstKb());
            mem.put("jvm_heap_committed_after_last_step_kb", r.heapLastKb());
        }
        if (r.gpuPeakBytes() >= 0) mem.put("gpu_peak_allocated_bytes", r.gpuPeakBytes());
        m.put("memory", mem);
        List<Map<String, Object>> res = new ArrayList<>();
        for (Residency.StepResidency s : r.residency()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("step", s.step());
            e.put("resident", s.resident());
            e.put("resident_bytes", s.residentBytes());
            e.put("moved_in", s.movedIn());
            e.put("moved_out", s.movedOut());
            res.add(e);
        }
        m.put("residency", res);
        return m;
    }
}
