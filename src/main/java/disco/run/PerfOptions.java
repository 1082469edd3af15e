package disco.run;

import disco.torch.Precision;
import disco.guidance.ClipGuidance;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/**
 * The performance switches of a run (none changes what is computed beyond floating-point rounding):
 *
 * @param precision network compute precision (autocast); fp32 is exact DD numerics
 * @param fusedAttention allow LibTorch's fused scaled-dot-product-attention kernels (flash, memory-efficient,
 *     cuDNN); off leaves only the math kernel (softmax(q k^T) v written out), DD's formulation
 * @param channelsLast 4-d convolution weights and the network inputs in channels-last memory format
 * @param cudnn cuDNN on, with its autotuner (DD turns cuDNN off on A100s); ignored on the CPU
 * @param threads LibTorch intra-op threads (0: LibTorch's default, the machine's cores)
 * @param offloadInactive keep a CLIP model on the device only while its schedule is on (see {@link Residency})
 * @param cutnBatchesPerCall cutn batches per CLIP call ({@link ClipGuidance#ALL_CUTN_BATCHES}: all in one)
 */
public record PerfOptions(Precision precision, boolean fusedAttention, boolean channelsLast, boolean cudnn, int threads,
                          boolean offloadInactive, int cutnBatchesPerCall) {
    public PerfOptions {
        if (precision == null) precision = Precision.FP32;
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        if (cutnBatchesPerCall < 1) throw new IllegalArgumentException("cutnBatchesPerCall must be >= 1");
    }

    /** fp32, fused attention, no channels-last, cuDNN on, default threads, no offload, merged CLIP batches. */
    public static PerfOptions defaults() {
        return new PerfOptions(Precision.FP32, true, false, true, 0, false, ClipGuidance.ALL_CUTN_BATCHES);
    }

    public PerfOptions withPrecision(Precision p) {
        return new PerfOptions(p, fusedAttention, channelsLast, cudnn, threads, offloadInactive, cutnBatchesPerCall);
    }

    public PerfOptions withOffloadInactive(boolean on) {
        return new PerfOptions(precision, fusedAttention, channelsLast, cudnn, threads, on, cutnBatchesPerCall);
    }

    public PerfOptions withThreads(int n) {
        return new PerfOptions(precision, fusedAttention, channelsLast, cudnn, n, offloadInactive, cutnBatchesPerCall);
    }

    public PerfOptions withChannelsLast(boolean on) {
        return new PerfOptions(precision, fusedAttention, on, cudnn, threads, offloadInactive, cutnBatchesPerCall);
    }

    /**
     * Applies the process-wide switches (LibTorch's global context and thread pool): threads, cuDNN and its
     * autotuner, the fused attention kernels. Precision and channels-last act per network call instead.
     */
    public void applyGlobal(Device device) {
        if (threads > 0) torch.set_num_threads(threads);
        org.bytedeco.pytorch.Context ctx = torch.globalContext();
        ctx.setSDPUseFlash(fusedAttention);
        ctx.setSDPUseMemEfficient(fusedAttention);
        ctx.setSDPUseCuDNN(fusedAttention);
        ctx.setSDPUseMath(true);
        if (device.is_cuda()) {
            ctx.setUserEnabledCuDNN(cudnn);
            ctx.setBenchmarkCuDNN(cudnn);
        }
    }
}
