package disco.cli;

import disco.run.PerfOptions;
import disco.torch.Precision;
import disco.settings.Settings;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Device;
import picocli.CommandLine.Option;

import java.util.List;

/**
 * The performance and memory options of {@code run}, {@code demo}, {@code resume}, {@code sweep} and
 * {@code bench step} (a picocli mixin): the same flags give the same {@link PerfOptions} everywhere.
 */
final class PerfFlags {
    @Option(names = "--precision", paramLabel = "fp32|fp16|bf16",
            description = "network compute precision (autocast; norm statistics and softmax in float32). Default: fp16"
                    + " on CUDA when diffusion_model_config.use_fp16 is true (DD's fp16 UNet), else fp32. fp16 needs CUDA;"
                    + " bf16 runs on CPUs with AVX512-BF16/AMX and on Ampere+ GPUs")
    String precision;

    @Option(names = "--clip-batch", paramLabel = "N|all|auto", defaultValue = "auto",
            description = "cutn batches per CLIP call: all, a count, or auto (on the CPU one per call, as DD does:"
                    + " measured faster there; on CUDA the most that the memory estimate fits in 90%% of free memory)."
                    + " The image is the same whatever N. Default: ${DEFAULT-VALUE}")
    String clipBatch;

    @Option(names = "--clip-workers", paramLabel = "N|auto", defaultValue = "auto",
            description = "how many of a step's CLIP calls (one per model and cutn batch group) run at the same time,"
                    + " each on max(1, threads / N) intra-op threads: auto (1: one after the other; measured faster on an"
                    + " idle machine) or a count (2 helped on a host loaded by other tenants; with 2 or more, at secondary-model steps the sampler's"
                    + " UNet forward runs on a worker beside the guidance). The image is the same whatever N."
                    + " Default: ${DEFAULT-VALUE}")
    String clipWorkers = "auto";

    @Option(names = "--offload-inactive",
            description = "keep a CLIP model on the device only while its schedule is on (and the step before)")
    boolean offloadInactive;

    @Option(names = "--unet-checkpointing",
            description = "DD's use_checkpoint: the UNet keeps only its block outputs and recomputes each block in the"
                    + " backward (less memory, about one more UNet forward per guided step)")
    boolean unetCheckpointing;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "LibTorch intra-op threads (0 = LibTorch's default: the machine's cores)")
    int threads;

    @Option(names = "--sdpa", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "LibTorch's fused scaled-dot-product-attention kernels (--no-sdpa: the math kernel only)")
    boolean sdpa;

    @Option(names = "--channels-last", paramLabel = "auto|on|off", defaultValue = "auto", fallbackValue = "on", arity = "0..1",
            description = "convolution weights and network inputs in channels-last format: auto (default) for DD's"
                    + " secondary model and the CLIP ResNets, where it was measured faster; on or off for every network")
    String channelsLast;

    @Option(names = "--cudnn-benchmark", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "cuDNN's autotuner on CUDA (default on; no effect on the CPU)")
    boolean cudnnBenchmark;

    @Option(names = "--tf32", description = "TensorFloat-32 matrix products and convolutions on Ampere+ GPUs (no effect on the CPU)")
    boolean tf32;

    /** The options for a run of {@code settings} (or none: the bench's reference directories) on {@code device}. */
    PerfOptions options(Settings settings, Device device, List<String> warnings) {
        if (threads < 0) throw DiscoException.badInput("--threads: expected >= 0, got " + threads);
        Precision p;
        if (precision != null) {
            p = Precision.parse(precision, "--precision");
        } else {
            boolean fp16 = settings != null && disco.plan.DiffusionConfig.of(settings).useFp16();
            if (fp16 && device.is_cuda()) {
                p = Precision.FP16;
            } else {
                if (fp16) warnings.add("diffusion_model_config.use_fp16: DD runs fp16 on CUDA only (use_fp16 = not useCPU); running fp32");
                p = Precision.FP32;
            }
        }
        PerfOptions o = new PerfOptions(p, sdpa, PerfOptions.Layout.parse(channelsLast, "--channels-last"), cudnnBenchmark, tf32, threads, offloadInactive,
                PerfOptions.parseClipBatch(clipBatch, "--clip-batch"),
                // DD's use_checkpoint (a top-level DD key, or in diffusion_model_config) turns it on as the flag does
                unetCheckpointing || settings != null && (Boolean.TRUE.equals(settings.useCheckpoint())
                        || disco.plan.DiffusionConfig.of(settings).useCheckpoint()),
                PerfOptions.parseClipWorkers(clipWorkers, "--clip-workers"));
        o.check(device);
        return o;
    }
}
