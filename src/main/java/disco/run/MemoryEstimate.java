package disco.run;

import disco.models.clip.ClipConfig;
import disco.models.unet.UNetConfig;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.torch.Precision;
import org.bytedeco.pytorch.Device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The peak memory of a guided step, estimated from the architectures, the settings and the options before anything
 * runs ({@code disco run --dry-run}, {@code disco plan --memory}, {@code --clip-batch auto}).
 *
 * <p>The model counts what autograd keeps: for each layer of a forward with grad, the tensors its backward needs
 * (a convolution or linear layer its input, GroupNorm/LayerNorm their input, an eval BatchNorm (one addcmul) a
 * factor per channel, SiLU its input, ReLU its output, fused attention q, k, v and its output), per pixel or token, at
 * the layer's resolution; everything else a layer makes is freed when its block returns. A step holds, at its
 * peak, the parameters of the resident networks, what the UNet's lean trace keeps (or, with checkpointing, only its
 * block outputs plus the largest block's graph), and for the CLIP model with the largest call its cutouts and saved
 * activations (with CLIP workers, the largest calls that run side by side, each with its own); at the steps that use the secondary model, its graph and the sampler's UNet forward without grad
 * (block outputs and the largest block) replace the UNet's graph. On the CPU the process
 * baseline (the JVM and LibTorch's libraries, measured as this process's resident memory before the networks) is
 * added.
 */
public final class MemoryEstimate {
    private MemoryEstimate() {}

    /** What the estimate is made of, in bytes. */
    public record Step(int step, long params, long denoiser, long clip, String clipModel, int imagesPerCall, long baseline) {
        public long total() {
            return params + denoiser + clip + baseline;
        }
    }

    /** The whole estimate: the step with the largest total, and every component. */
    public record Report(Step peak, Map<String, Long> paramBytes, int clipBatch, String device) {
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("device", device);
            m.put("peak_bytes", peak.total());
            m.put("peak_step", peak.step());
            m.put("params_bytes", peak.params());
            m.put("denoiser_activation_bytes", peak.denoiser());
            m.put("clip_activation_bytes", peak.clip());
            m.put("clip_model_at_peak", peak.clipModel());
            m.put("clip_images_per_call", peak.imagesPerCall());
            m.put("baseline_bytes", peak.baseline());
            m.put("clip_batch", PerfOptions.clipBatchLabel(clipBatch));
            m.put("param_bytes_per_network", paramBytes);
            return m;
        }
    }

    /** The architectures and sizes a step runs on. */
    public record Inputs(UNetConfig unet, Integer secondaryWidth, Map<String, ClipConfig> clips, Map<String, Long> paramBytes,
                         StepPlan plan, int width, int height, PerfOptions perf, boolean ddStages, boolean cuda,
                         long baseline, int clipWorkers) {}

    /** The inputs of a built pipeline (parameter bytes read off the networks). */
    public static Inputs inputs(Pipeline p) {
        Map<String, Long> params = new LinkedHashMap<>();
        params.put("unet", Residency.bytesOf(p.networks().unet()));
        if (p.networks().secondary() != null) params.put("secondary", Residency.bytesOf(p.networks().secondary()));
        Map<String, ClipConfig> clips = new LinkedHashMap<>();
        for (String name : p.plan().models()) {
            clips.put(name, p.networks().clips().get(name).config());
            params.put(name, Residency.bytesOf(p.networks().clips().get(name)));
        }
        return new Inputs(p.networks().unet().config(),
                p.networks().secondary() == null ? null : p.networks().secondary().width(), clips, params, p.plan(),
                p.sampling().width(), p.sampling().height(), p.perf(), false, p.device().is_cuda(),
                p.device().is_cuda() ? 0 : processBaseline(), p.clipWorkers());
    }

    /** The estimate at {@code clipBatch} cutn batches per CLIP call (the DD stages use one). */
    public static Report estimate(Inputs in, int clipBatch) {
        Step peak = null;
        Map<String, Long> resident = in.paramBytes();
        for (PlanStep s : in.plan().steps()) {
            long params = 0;
            params += resident.getOrDefault("unet", 0L);
            if (in.secondaryWidth() != null) params += resident.getOrDefault("secondary", 0L);
            for (String m : in.clips().keySet()) {
                if (!in.perf().offloadInactive() || s.active().contains(m) || activeNext(in.plan(), s.step(), m)) {
                    params += resident.getOrDefault(m, 0L);
                }
            }
            // at a secondary-model step the sampler's UNet forward still runs (without grad): its block outputs and
            // its largest block's temporaries are live while it runs, and the allocator keeps them for the step
            long den = s.useSecondaryModel() && in.secondaryWidth() != null
                    ? secondaryBytes(in.secondaryWidth(), in.height(), in.width(), in.perf().precision())
                            + unetForwardBytes(in.unet(), in.height(), in.width(), in.perf())
                    : unetBytes(in.unet(), in.height(), in.width(), in.perf());
            int batches = in.ddStages() ? 1 : Math.min(clipBatch == PerfOptions.CLIP_BATCH_AUTO ? 1 : clipBatch, s.cutnBatches());
            int cuts = (s.overview() + s.innercut()) * Math.max(1, batches);
            // the step's CLIP calls (per active model, one per group of cutn batches); with CLIP workers the
            // largest of them run side by side, each holding its cutouts and activations
            List<Map.Entry<String, Long>> calls = new ArrayList<>();
            int callsPerModel = (s.cutnBatches() + Math.max(1, batches) - 1) / Math.max(1, batches);
            for (String m : s.active()) {
                ClipConfig c = in.clips().get(m);
                if (c == null) continue;
                long b = clipBytes(c, cuts, in.perf().precision());
                for (int k = 0; k < callsPerModel; k++) calls.add(Map.entry(m, b));
            }
            calls.sort((x, y) -> Long.compare(y.getValue(), x.getValue()));
            int atOnce = in.ddStages() ? 1 : Math.max(1, Math.min(in.clipWorkers(), calls.size()));
            long clip = 0;
            List<String> which = new ArrayList<>();
            for (int k = 0; k < Math.min(atOnce, calls.size()); k++) {
                clip += calls.get(k).getValue();
                which.add(calls.get(k).getKey());
            }
            int perCall = calls.isEmpty() ? 0 : cuts;
            Step st = new Step(s.step(), params, den, clip, which.isEmpty() ? null : String.join(" + ", which), perCall, in.baseline());
            if (peak == null || st.total() > peak.total()) peak = st;
        }
        if (peak == null) peak = new Step(-1, 0, 0, 0, null, 0, in.baseline());
        return new Report(peak, resident, clipBatch, in.cuda() ? "cuda" : "cpu");
    }

    /** The same inputs for another plan of the same networks and size (e.g. another run of a sweep). */
    public static Inputs withPlan(Inputs in, StepPlan plan) {
        return new Inputs(in.unet(), in.secondaryWidth(), in.clips(), in.paramBytes(), plan, in.width(), in.height(),
                in.perf(), in.ddStages(), in.cuda(), in.baseline(), in.clipWorkers());
    }

    /**
     * The lines {@code disco plan --estimate} and {@code disco sweep --dry-run --estimate} print for the largest
     * of the given estimates ({@code label} names what it belongs to, e.g. the run): the peak step and its parts,
     * whether it fits in the memory available here, and on a 16 GB P100 and a 40 GB A100 with which options.
     */
    public static List<String> describe(Inputs in, Report rep, String label, long available) {
        List<String> out = new java.util.ArrayList<>();
        Step pk = rep.peak();
        out.add(String.format(java.util.Locale.ROOT, "# memory: estimated peak %.2f GiB on %s%s at executed step %d (parameters %.2f,"
                        + " denoiser activations %.2f, CLIP %s on %d images per call %.2f, process baseline %.2f)",
                gib(pk.total()), rep.device(), label == null ? "" : " (" + label + ")", pk.step(), gib(pk.params()),
                gib(pk.denoiser()), pk.clipModel() == null ? "-" : pk.clipModel(), pk.imagesPerCall(), gib(pk.clip()), gib(pk.baseline())));
        if (pk.total() > available) {
            List<String> fix = fitOn(in, available);
            out.add(String.format(java.util.Locale.ROOT, "# memory: more than the %.2f GiB available here: %s", gib(available),
                    fix == null ? "no memory option makes it fit" : fix.isEmpty() ? "it fits on CUDA as it is" : "try " + String.join(" ", fix)));
        }
        for (long[] card : new long[][] {{16, 0}, {40, 1}}) {
            List<String> fix = fitOn(in, card[0] << 30);
            out.add("# memory: on " + (card[1] == 0 ? "a 16 GB P100" : "a 40 GB A100") + ": "
                    + (fix == null ? "does not fit with any memory option" : fix.isEmpty() ? "fits as it is" : "fits with " + String.join(" ", fix)));
        }
        return out;
    }

    /** The same inputs on CUDA with other options (no process baseline there). */
    public static Inputs onCuda(Inputs in, PerfOptions perf) {
        return new Inputs(in.unet(), in.secondaryWidth(), in.clips(), in.paramBytes(), in.plan(), in.width(), in.height(),
                perf, in.ddStages(), true, 0, 1);
    }

    /**
     * The options that make the step fit in {@code budget} bytes on CUDA, tried from the cheapest in speed: one
     * cutn batch per CLIP call, then UNet checkpointing, then offloading inactive CLIP models, then fp16; the first
     * combination that fits, or null when none does.
     */
    public static List<String> fitOn(Inputs in, long budget) {
        List<List<String>> tries = List.of(List.of(), List.of("--clip-batch 1"), List.of("--clip-batch 1", "--unet-checkpointing"),
                List.of("--clip-batch 1", "--unet-checkpointing", "--offload-inactive"),
                List.of("--clip-batch 1", "--unet-checkpointing", "--offload-inactive", "--precision fp16"));
        for (List<String> t : tries) {
            PerfOptions p = in.perf();
            int cb = in.perf().clipBatch() == PerfOptions.CLIP_BATCH_AUTO ? PerfOptions.CLIP_BATCH_ALL : in.perf().clipBatch();
            if (t.contains("--clip-batch 1")) cb = 1;
            if (t.contains("--unet-checkpointing")) p = p.withUnetCheckpointing(true);
            if (t.contains("--offload-inactive")) p = p.withOffloadInactive(true);
            if (t.contains("--precision fp16")) p = p.withPrecision(Precision.FP16);
            Inputs ci = onCuda(in, p);
            // the CUDA context and cuDNN/cuBLAS workspaces: about 0.6 GiB on a current driver
            if (estimate(ci, cb).peak().total() + CUDA_CONTEXT_BYTES <= budget) return t;
        }
        return null;
    }

    /** What a CUDA context, cuBLAS and cuDNN take before the first tensor (measured on the order of 0.5-0.8 GiB). */
    public static final long CUDA_CONTEXT_BYTES = 640L << 20;

    private static boolean activeNext(StepPlan plan, int j, String model) {
        return j + 1 < plan.size() && plan.step(j + 1).active().contains(model);
    }

    /**
     * {@code --clip-batch auto}: the largest count of cutn batches per CLIP call whose estimated peak stays within
     * 90 % of {@code available} bytes; DD's one call per batch when even that does not fit (with a warning).
     */
    static int autoClipBatch(Inputs in, long available, Consumer<String> log) {
        int most = 1;
        for (PlanStep s : in.plan().steps()) most = Math.max(most, s.cutnBatches());
        for (int n = most; n >= 1; n--) {
            if (estimate(in, n).peak().total() <= available * 0.9) return n == most ? PerfOptions.CLIP_BATCH_ALL : n;
        }
        Report one = estimate(in, 1);
        log.accept(String.format("--clip-batch auto: even one cutn batch per CLIP call is estimated at %.1f GiB, more"
                + " than the %.1f GiB free; running DD's one call per batch", gib(one.peak().total()), gib(available)));
        return 1;
    }

    static double gib(long b) {
        return b / (1024.0 * 1024 * 1024);
    }

    // ---------------------------------------------------------------- per network: saved activations of one forward

    private static long actBytes(Precision p) {
        return p == Precision.FP32 ? 4 : 2;
    }

    /**
     * The UNet's forward with grad as the lean trace keeps it ({@code UNetModel.traceLean}): the outputs between
     * layers, per ResBlock its first conv's output, per attention block the norm, qkv and projection inputs with
     * q, k, v and the output (7 c), the input convolution's input and the head's graph. Checkpointed: the block
     * outputs plus the largest block's graph (per ResBlock, c_in → c_out with scale-shift norm, GroupNorm, SiLU
     * and conv inputs (3 c_in) and the out layers' norm, product, SiLU and conv inputs (4 c_out)).
     */
    public static long unetBytes(UNetConfig c, int height, int width, PerfOptions perf) {
        return unet(c, height, width, perf, false);
    }

    /** The UNet's forward without grad: its block outputs (the skips are held until the output blocks use them) and the largest block. */
    public static long unetForwardBytes(UNetConfig c, int height, int width, PerfOptions perf) {
        return unet(c, height, width, perf, true);
    }

    private static long unet(UNetConfig c, int height, int width, PerfOptions perf, boolean noGrad) {
        List<Long> blocks = new ArrayList<>(); // saved floats of each block
        List<Long> outputs = new ArrayList<>(); // floats of each block's output
        long lean = 0; // what the lean trace keeps besides the outputs: each ResBlock's first conv output, other layers' graphs
        double[] mult = c.channelMult();
        long px = (long) height * width;
        int ch = c.channels(mult[0]);
        int ch0 = ch;
        java.util.ArrayDeque<Integer> skips = new java.util.ArrayDeque<>();
        blocks.add(3 * px);
        outputs.add(ch * px);
        skips.push(ch);
        lean += 3 * px;
        int ds = 1;
        int norm = c.useScaleShiftNorm() ? 4 : 3;
        for (int level = 0; level < mult.length; level++) {
            long p = px / ((long) ds * ds);
            for (int i = 0; i < c.numResBlocks(); i++) {
                int out = c.channels(mult[level]);
                long f = (3L * ch + (long) norm * out) * p;
                ch = out;
                lean += ch * p;
                if (c.attentionAt(ds)) {
                    f += attention(ch, p, c, perf);
                    lean += attention(ch, p, c, perf);
                }
                blocks.add(f);
                outputs.add(ch * p);
                skips.push(ch);
            }
            if (level != mult.length - 1) {
                long q = p / 4;
                // down ResBlock: norm + SiLU at p, the pooled h and x, conv at p/4, the out layers at p/4
                blocks.add(c.resblockUpdown() ? (2L * ch * p + 2L * ch * q + (long) norm * ch * q + ch * p) : ch * p);
                lean += c.resblockUpdown() ? ch * q : ch * p;
                outputs.add(ch * q);
                skips.push(ch);
                ds *= 2;
            }
        }
        long pm = px / ((long) ds * ds);
        blocks.add((2 * (3L + norm) * ch) * pm + attention(ch, pm, c, perf));
        lean += 2L * ch * pm + attention(ch, pm, c, perf);
        outputs.add(ch * pm);
        for (int level = mult.length - 1; level >= 0; level--) {
            long p = px / ((long) ds * ds);
            for (int i = 0; i <= c.numResBlocks(); i++) {
                int skip = skips.pop();
                int out = c.channels(mult[level]);
                long f = (3L * (ch + skip) + (long) norm * out) * p + (long) (ch + skip) * p; // + the concatenation
                ch = out;
                lean += ch * p;
                if (c.attentionAt(ds)) {
                    f += attention(ch, p, c, perf);
                    lean += attention(ch, p, c, perf);
                }
                long o = ch * p;
                if (level > 0 && i == c.numResBlocks()) {
                    long q = p * 4; // up ResBlock: norm + SiLU at p, the upsampled h and x, conv and out layers at 4p
                    f += c.resblockUpdown() ? (2L * ch * p + 2L * ch * q + (long) norm * ch * q) : ch * q;
                    lean += ch * q;
                    o = ch * q;
                    ds /= 2;
                }
                blocks.add(f);
                outputs.add(o);
            }
        }
        blocks.add(3L * ch0 * px);
        lean += 2L * ch0 * px; // the head's graph: SiLU's and the conv's inputs
        long largest = 0, kept = 0;
        for (long b : blocks) largest = Math.max(largest, b);
        for (long o : outputs) kept += o;
        long bytes = actBytes(perf.precision());
        // a backward holds the gradient of the largest activation twice (in and out of a layer) beside the graph
        long gradTransient = 2 * 4L * maxOf(outputs);
        if (noGrad) return kept * bytes + largest * bytes;
        if (perf.unetCheckpointing()) return kept * bytes + largest * bytes + gradTransient;
        // the lean trace (the default): the outputs, what it keeps, and in the pull-back a decoder block's
        // concatenated input with the recomputed norm and activation input beside the gradients
        return (kept + lean) * bytes + gradTransient + 6L * maxOf(outputs) * bytes;
    }

    private static long attention(int ch, long tokens, UNetConfig c, PerfOptions perf) {
        long f = 7L * ch * tokens;
        if (!perf.fusedAttention()) {
            int heads = c.numHeadChannels() == -1 ? c.numHeads() : ch / c.numHeadChannels();
            f += 2L * heads * tokens * tokens; // the softmax weights, kept by the softmax and the product
        }
        return f;
    }

    private static long maxOf(List<Long> v) {
        long m = 0;
        for (long x : v) m = Math.max(m, x);
        return m;
    }

    /** DD's secondary model (ConvBlock = conv + ReLU: its input and its output per conv; the pooled and upsampled maps). */
    public static long secondaryBytes(int c, int height, int width, Precision precision) {
        int[] cs = {c, c * 2, c * 2, c * 4, c * 4, c * 8};
        long px = (long) height * width;
        // outer: conv(3+16 -> c), conv(c -> c); the skip levels; conv(2c -> c), conv(c -> 3)
        long f = (19L + c) * px + 2L * c * px + (2L * c + c) * px + c * px + 3 * px;
        long p = px;
        for (int d = 1; d < cs.length; d++) {
            p /= 4;
            f += (long) cs[d - 1] * p * 4; // the average pool's input
            f += ((long) cs[d - 1] + cs[d]) * p + 2L * cs[d] * p; // two ConvBlocks down
            f += (2L * cs[d] + cs[d]) * p + ((long) cs[d] + cs[d - 1]) * p; // two ConvBlocks up (after the concatenation)
            f += (long) cs[d - 1] * p * 4; // the upsampled output, concatenated with the skip
        }
        return f * actBytes(precision);
    }

    /** One CLIP image tower's forward with grad on {@code n} images, with the cutouts it is fed. */
    public static long clipBytes(ClipConfig c, int n, Precision precision) {
        long r = c.imageResolution();
        long img = 3 * r * r;
        long f;
        if (c.isVit()) {
            long w = c.visionWidth();
            long t = (r / c.visionPatchSize()) * (r / c.visionPatchSize()) + 1;
            // per block: ln_1 and in_proj inputs (2w), q, k, v and the output (4w), out_proj's input (w),
            // ln_2 and c_fc inputs (2w), the activation's input (QuickGELU as silu(1.702x): 4w), c_proj's (4w)
            f = img + t * w + (long) c.vitLayers() * t * 17 * w;
        } else {
            int width = c.visionWidth();
            long p = r * r / 4;
            // the stem at r/2: the three ReLUs' outputs (the next conv's and the pool's inputs; the norms keep a
            // per-channel factor only)
            f = img + p * (2L * width);
            p /= 4;
            int inplanes = width;
            List<Integer> layers = c.resnetLayers();
            for (int l = 0; l < layers.size(); l++) {
                int planes = width << l;
                for (int b = 0; b < layers.get(l); b++) {
                    int stride = b == 0 && l > 0 ? 2 : 1;
                    long q = p / ((long) stride * stride);
                    // the block input (conv1's), the two inner ReLUs' outputs, the pooled map, the downsample's
                    // pooled input; the output is the next block's input
                    long g = (long) inplanes * p + 2L * planes * p + (stride > 1 ? (long) planes * q : 0);
                    if (stride > 1 || inplanes != planes * 4) g += (long) inplanes * q;
                    f += g;
                    inplanes = planes * 4;
                    p = q;
                }
            }
            f += (p + 1) * inplanes * 6L; // the attention pool: q, k, v and projections over the final grid
        }
        // the cutouts (float32) and their normalised copy
        return n * (f * actBytes(precision) + 2 * 4L * img);
    }

    // ---------------------------------------------------------------- memory there is

    /** The bytes this process may still use: MemAvailable on the CPU (plus what it holds), free memory on CUDA. */
    public static long availableBytes(Device device) {
        if (device.is_cuda()) {
            long[] info = cudaMemInfo();
            return info == null ? Long.MAX_VALUE / 4 : info[0];
        }
        return meminfo("MemAvailable:") + rssBytes();
    }

    /**
     * The current CUDA device's free and total bytes ({@code cudaMemGetInfo}), or null where it cannot be asked.
     * cudart is on the class path of the GPU builds only: reached by reflection so the CPU build compiles.
     */
    public static long[] cudaMemInfo() {
        try {
            Class<?> rt = Class.forName("org.bytedeco.cuda.global.cudart");
            org.bytedeco.javacpp.SizeTPointer free = new org.bytedeco.javacpp.SizeTPointer(1);
            org.bytedeco.javacpp.SizeTPointer total = new org.bytedeco.javacpp.SizeTPointer(1);
            rt.getMethod("cudaMemGetInfo", org.bytedeco.javacpp.SizeTPointer.class, org.bytedeco.javacpp.SizeTPointer.class)
                    .invoke(null, free, total);
            return new long[] {free.get(), total.get()};
        } catch (ReflectiveOperationException | LinkageError e) {
            return null;
        }
    }

    private static long meminfo(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith(key)) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException e) {
            return Long.MAX_VALUE / 4;
        }
        return Long.MAX_VALUE / 4;
    }

    static long rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    private static volatile long baseline = -1;

    /**
     * The process's resident memory before any network is loaded (recorded by {@link #recordBaseline}, else now
     * less the networks' parameters is unknown, so the current resident memory is taken).
     */
    static long processBaseline() {
        return baseline >= 0 ? baseline : rssBytes();
    }

    /** Records this process's resident memory now as the baseline (call before loading networks). */
    public static void recordBaseline() {
        baseline = rssBytes();
    }
}
