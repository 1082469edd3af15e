package disco.run;

import disco.torch.Precision;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The performance and memory options of a run. None changes what is computed beyond floating-point rounding:
 * precision and the fused kernels change the rounding, the others change only speed and memory.
 *
 * @param precision network compute precision (autocast); fp32 is exact DD numerics
 * @param fusedAttention allow LibTorch's fused scaled-dot-product-attention kernels (flash, memory-efficient,
 *     cuDNN); off leaves only the math kernel (softmax(q k^T) v written out), DD's formulation
 * @param channelsLast which networks keep their 4-d convolution weights and inputs in channels-last memory format
 *     ({@link Layout})
 * @param cudnnBenchmark cuDNN's autotuner on CUDA (DD turns cuDNN off on A100s); no effect on the CPU
 * @param tf32 TensorFloat-32 matrix products and convolutions on Ampere and newer; no effect on the CPU
 * @param threads LibTorch intra-op threads (0: LibTorch's default, the machine's cores)
 * @param offloadInactive keep a CLIP model on the device only while its schedule is on (see {@link Residency})
 * @param clipBatch cutn batches per CLIP call: {@link #CLIP_BATCH_ALL}, {@link #CLIP_BATCH_AUTO} (chosen from the
 *     memory estimate and the free memory when the pipeline is built) or a count (1: DD's one call per batch)
 * @param unetCheckpointing DD's {@code use_checkpoint}: the UNet keeps only its block outputs in the forward with
 *     grad and recomputes each block in the backward (less memory, one more forward's work)
 * @param clipWorkers how many of a step's CLIP calls run at the same time, each on its share of the threads (and,
 *     where the guidance does not reuse the sampler's UNet forward, that forward beside the guidance)
 *     ({@link #CLIP_WORKERS_AUTO}: one on every device; 1: one after the other, each on every thread)
 */
public record PerfOptions(Precision precision, boolean fusedAttention, Layout channelsLast, boolean cudnnBenchmark,
                          boolean tf32, int threads, boolean offloadInactive, int clipBatch, boolean unetCheckpointing,
                          int clipWorkers) {
    /**
     * Channels-last per network: {@link #AUTO} puts DD's secondary model and the CLIP ResNets in channels-last (their
     * convolutions run in oneDNN's NHWC kernels without reorders: measured 1.1x and up to 2.8x faster on the CPU,
     * bench/README.md) and leaves the UNet (measured slower in channels-last) and the ViTs (one convolution) as
     * they are; {@link #ON} and {@link #OFF} apply to every network.
     */
    public enum Layout {
        AUTO, ON, OFF;

        /** Whether a network ({@code unet}, {@code secondary}, {@code clip-resnet}, {@code clip-vit}) runs channels-last. */
        public boolean forNetwork(String network) {
            return switch (this) {
                case ON -> true;
                case OFF -> false;
                case AUTO -> network.equals("secondary") || network.equals("clip-resnet");
            };
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** {@code auto}, {@code on} or {@code off}; anything else is bad input naming {@code where}. */
        public static Layout parse(String s, String where) {
            for (Layout l : values()) if (l.label().equals(s.strip().toLowerCase(Locale.ROOT))) return l;
            throw DiscoException.badInput(where + ": expected auto, on or off, got '" + s + "'");
        }
    }

    /** All of a model's cutn batches in one CLIP call. */
    public static final int CLIP_BATCH_ALL = Integer.MAX_VALUE;
    /** Chosen from the memory estimate when the pipeline is built. */
    public static final int CLIP_BATCH_AUTO = 0;
    /** Resolved when the pipeline is built ({@link #clipWorkersResolved}). */
    public static final int CLIP_WORKERS_AUTO = 0;

    public PerfOptions {
        if (precision == null) precision = Precision.FP32;
        if (channelsLast == null) channelsLast = Layout.AUTO;
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        if (clipBatch < 0) throw new IllegalArgumentException("clipBatch must be >= 0, got " + clipBatch);
        if (clipWorkers < 0) throw new IllegalArgumentException("clipWorkers must be >= 0, got " + clipWorkers);
    }

    /**
     * The defaults, chosen from measurements (bench/README.md): fp32, fused attention on, channels-last where it
     * was measured faster ({@link Layout#AUTO}), cuDNN's
     * autotuner on, TF32 off (DD's numerics), LibTorch's default threads, no offload, all cutn batches in one CLIP
     * call, no UNet checkpointing.
     */
    public static PerfOptions defaults() {
        return new PerfOptions(Precision.FP32, true, Layout.AUTO, true, false, 0, false, CLIP_BATCH_ALL, false, CLIP_WORKERS_AUTO);
    }

    public PerfOptions withPrecision(Precision p) {
        return new PerfOptions(p, fusedAttention, channelsLast, cudnnBenchmark, tf32, threads, offloadInactive, clipBatch, unetCheckpointing, clipWorkers);
    }

    public PerfOptions withThreads(int n) {
        return new PerfOptions(precision, fusedAttention, channelsLast, cudnnBenchmark, tf32, n, offloadInactive, clipBatch, unetCheckpointing, clipWorkers);
    }

    public PerfOptions withOffloadInactive(boolean on) {
        return new PerfOptions(precision, fusedAttention, channelsLast, cudnnBenchmark, tf32, threads, on, clipBatch, unetCheckpointing, clipWorkers);
    }

    public PerfOptions withChannelsLast(Layout on) {
        return new PerfOptions(precision, fusedAttention, on, cudnnBenchmark, tf32, threads, offloadInactive, clipBatch, unetCheckpointing, clipWorkers);
    }

    public PerfOptions withClipBatch(int n) {
        return new PerfOptions(precision, fusedAttention, channelsLast, cudnnBenchmark, tf32, threads, offloadInactive, n, unetCheckpointing, clipWorkers);
    }

    public PerfOptions withUnetCheckpointing(boolean on) {
        return new PerfOptions(precision, fusedAttention, channelsLast, cudnnBenchmark, tf32, threads, offloadInactive, clipBatch, on, clipWorkers);
    }

    public PerfOptions withClipWorkers(int n) {
        return new PerfOptions(precision, fusedAttention, channelsLast, cudnnBenchmark, tf32, threads, offloadInactive, clipBatch, unetCheckpointing, n);
    }

    public PerfOptions withFusedAttention(boolean on) {
        return new PerfOptions(precision, on, channelsLast, cudnnBenchmark, tf32, threads, offloadInactive, clipBatch, unetCheckpointing, clipWorkers);
    }

    public PerfOptions withCudnnBenchmark(boolean on) {
        return new PerfOptions(precision, fusedAttention, channelsLast, on, tf32, threads, offloadInactive, clipBatch, unetCheckpointing, clipWorkers);
    }

    public PerfOptions withTf32(boolean on) {
        return new PerfOptions(precision, fusedAttention, channelsLast, cudnnBenchmark, on, threads, offloadInactive, clipBatch, unetCheckpointing, clipWorkers);
    }

    /** {@code N}, {@code all} or {@code auto} (as {@code --clip-batch} takes it); anything else is bad input naming {@code where}. */
    public static int parseClipBatch(String s, String where) {
        return parseCount(s, where, Map.of("all", CLIP_BATCH_ALL, "auto", CLIP_BATCH_AUTO), "a count >= 1, all or auto");
    }

    /** {@code N} (>= 1) or {@code auto} (as {@code --clip-workers} takes it); anything else is bad input naming {@code where}. */
    public static int parseClipWorkers(String s, String where) {
        return parseCount(s, where, Map.of("auto", CLIP_WORKERS_AUTO), "a count >= 1 or auto");
    }

    /** A count >= 1 or one of {@code words} (case-insensitive); anything else is bad input naming {@code where}. */
    private static int parseCount(String s, String where, Map<String, Integer> words, String expected) {
        String v = s.strip().toLowerCase(Locale.ROOT);
        Integer w = words.get(v);
        if (w != null) return w;
        try {
            int n = Integer.parseInt(v);
            if (n >= 1) return n;
        } catch (NumberFormatException e) {
            // fall through
        }
        throw DiscoException.badInput(where + ": expected " + expected + ", got '" + s + "'");
    }

    /** The {@code --clip-workers} spelling of a value. */
    public static String clipWorkersLabel(int n) {
        return n == CLIP_WORKERS_AUTO ? "auto" : Integer.toString(n);
    }

    /**
     * The CLIP workers: {@code auto} is 1 (one call after the other on every thread) on every device: on an idle
     * two-core machine that beat two calls side by side at one thread each on every path (the UNet path, DD's
     * secondary-model path, bf16), while two workers gained only on a host loaded by other tenants (bench/README.md,
     * "CLIP calls side by side" and "The ViT's linear layers"); a count is taken as given (each worker then gets
     * {@code max(1, threads / N)} threads).
     */
    public int clipWorkersResolved() {
        return clipWorkers == CLIP_WORKERS_AUTO ? 1 : clipWorkers;
    }

    /** The {@code --clip-batch} spelling of a value. */
    public static String clipBatchLabel(int n) {
        return n == CLIP_BATCH_ALL ? "all" : n == CLIP_BATCH_AUTO ? "auto" : Integer.toString(n);
    }

    /**
     * Refuses what this device cannot run, with one line naming the option: fp16 needs CUDA (LibTorch's CPU
     * kernels have no fast float16 path; bf16 is the CPU's reduced precision).
     */
    public void check(Device device) {
        if (precision == Precision.FP16 && !device.is_cuda()) {
            throw DiscoException.badInput("--precision fp16: needs --device cuda (on the CPU use bf16 or fp32)");
        }
        if (clipWorkers > 1 && device.is_cuda()) {
            throw DiscoException.badInput("--clip-workers " + clipWorkers + ": CLIP calls run side by side on the CPU only"
                    + " (on CUDA they share one stream; use 1 or auto)");
        }
    }

    /**
     * Applies the process-wide switches (LibTorch's global context and thread pool): threads, cuDNN's autotuner,
     * TF32, the fused attention kernels. Precision, channels-last, checkpointing and the CLIP batch act per network
     * call instead.
     */
    public void applyGlobal(Device device) {
        if (threads > 0) torch.set_num_threads(threads);
        org.bytedeco.pytorch.Context ctx = torch.globalContext();
        ctx.setSDPUseFlash(fusedAttention);
        ctx.setSDPUseMemEfficient(fusedAttention);
        ctx.setSDPUseCuDNN(fusedAttention);
        ctx.setSDPUseMath(true);
        if (device.is_cuda()) {
            ctx.setBenchmarkCuDNN(cudnnBenchmark);
            ctx.setAllowTF32CuBLAS(tf32);
            ctx.setAllowTF32CuDNN(tf32);
        }
    }

    /** The options as the run's log and {@code disco bench step --json} name them. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("precision", precision.label());
        m.put("clip_batch", clipBatchLabel(clipBatch));
        m.put("clip_workers", clipWorkersLabel(clipWorkers));
        m.put("offload_inactive", offloadInactive);
        m.put("unet_checkpointing", unetCheckpointing);
        m.put("threads", threads);
        m.put("sdpa", fusedAttention);
        m.put("channels_last", channelsLast.label());
        m.put("cudnn_benchmark", cudnnBenchmark);
        m.put("tf32", tf32);
        return m;
    }
}
