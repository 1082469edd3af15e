package disco.torch;

import disco.util.DiscoException;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The compute precision of the networks (UNet, secondary model, CLIP image towers). Lower precisions run under
 * LibTorch autocast ({@link Autocast}): convolutions and matrix products in float16 / bfloat16 while the weights,
 * the inputs, the outputs and everything outside the networks (cutouts, losses, the sampler, the gradient
 * accumulator) stay float32; GroupNorm and LayerNorm compute their statistics in float32 (the models cast to float32
 * around them) and scaled-dot-product attention accumulates its softmax in float32.
 */
public enum Precision {
    FP32("fp32", ScalarType.Float),
    FP16("fp16", ScalarType.Half),
    BF16("bf16", ScalarType.BFloat16);

    private final String label;
    private final ScalarType type;

    Precision(String label, ScalarType type) {
        this.label = label;
        this.type = type;
    }

    public String label() {
        return label;
    }

    public ScalarType scalarType() {
        return type;
    }

    /** Parses {@code fp32}, {@code fp16} or {@code bf16}; anything else is bad input naming {@code where}. */
    public static Precision parse(String s, String where) {
        for (Precision p : values()) if (p.label.equals(s)) return p;
        throw DiscoException.badInput(where + ": expected fp32, fp16 or bf16, got '" + s + "'");
    }
}
