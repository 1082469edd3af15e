package disco.models.unet;

import disco.models.layers.Modules;
import disco.models.layers.Conv;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** guided-diffusion's {@code Upsample} (nearest x2, optional conv) and {@code Downsample} (stride-2 conv or avg pool). */
final class Resampling extends Module implements Block {
    private final ResBlock.Resample kind;
    private final Conv conv;

    /** With {@code useConv}: {@code conv} (Upsample) or {@code op} (Downsample), 3x3, as upstream names them. */
    Resampling(ResBlock.Resample kind, int channels, boolean useConv, int outChannels) {
        this.kind = kind;
        if (useConv) {
            conv = kind == ResBlock.Resample.UP
                    ? Modules.register(this, "conv", new Conv(2, channels, outChannels, 3, 1, 1))
                    : Modules.register(this, "op", new Conv(2, channels, outChannels, 3, 2, 1));
        } else {
            if (channels != outChannels) throw new IllegalArgumentException("resampling without conv keeps channels");
            conv = null;
        }
    }

    @Override
    public java.util.List<Conv> convs() {
        return conv == null ? java.util.List.of() : java.util.List.of(conv);
    }

    @Override
    public Tensor forward(Tensor x, Tensor emb) {
        if (kind == ResBlock.Resample.UP) {
            Tensor h = apply(x, kind);
            return conv == null ? h : conv.forward(h);
        }
        return conv == null ? apply(x, kind) : conv.forward(x);
    }

    /** Nearest-neighbour x2 upsampling or 2x2 average pooling. */
    static Tensor apply(Tensor x, ResBlock.Resample kind) {
        return switch (kind) {
            case UP -> torch.upsample_nearest2d(x, new long[] {x.size(2) * 2, x.size(3) * 2},
                    new org.bytedeco.pytorch.DoubleOptional(2.0), new org.bytedeco.pytorch.DoubleOptional(2.0));
            case DOWN -> torch.avg_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, false, true,
                    new LongOptional());
            case NONE -> x;
        };
    }
}
