package disco.models.unet;

import disco.models.layers.Modules;
import disco.models.layers.Conv;
import disco.models.layers.GroupNorm32;
import disco.models.layers.Linear;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * guided-diffusion's {@code ResBlock}. Keys: {@code in_layers.0} (norm), {@code in_layers.2} (conv),
 * {@code emb_layers.1} (linear), {@code out_layers.0} (norm), {@code out_layers.3} (conv; index 2 is dropout),
 * {@code skip_connection} (a 1x1 conv when the channel count changes).
 */
final class ResBlock extends Module implements Block {
    enum Resample { NONE, UP, DOWN }

    private final GroupNorm32 inNorm;
    private final Conv inConv;
    private final Linear embLinear;
    private final GroupNorm32 outNorm;
    private final Conv outConv;
    private final Conv skip;
    private final boolean scaleShift;
    private final Resample resample;

    ResBlock(int channels, int embChannels, int outChannels, boolean useScaleShiftNorm, Resample resample) {
        this.scaleShift = useScaleShiftNorm;
        this.resample = resample;
        Module in = Modules.register(this, "in_layers", new Module());
        inNorm = Modules.register(in, "0", new GroupNorm32(channels));
        inConv = Modules.register(in, "2", Conv.conv2d(channels, outChannels, 3, 1));
        Module emb = Modules.register(this, "emb_layers", new Module());
        embLinear = Modules.register(emb, "1", new Linear(embChannels, useScaleShiftNorm ? 2L * outChannels : outChannels));
        Module out = Modules.register(this, "out_layers", new Module());
        outNorm = Modules.register(out, "0", new GroupNorm32(outChannels));
        outConv = Modules.register(out, "3", Conv.conv2d(outChannels, outChannels, 3, 1));
        skip = outChannels == channels ? null : Modules.register(this, "skip_connection", Conv.conv2d(channels, outChannels, 1, 0));
    }

    @Override
    public java.util.List<Conv> convs() {
        return skip == null ? java.util.List.of(inConv, outConv) : java.util.List.of(inConv, outConv, skip);
    }

    @Override
    public Tensor forward(Tensor x, Tensor emb) {
        Tensor h = torch.silu(inNorm.forward(x));
        if (resample != Resample.NONE) {
            h = Resampling.apply(h, resample);
            x = Resampling.apply(x, resample);
        }
        h = inConv.forward(h);
        Tensor e = embLinear.forward(torch.silu(emb)).to(h.scalar_type());
        e = e.unsqueeze(-1).unsqueeze(-1);
        if (scaleShift) {
            TensorVector ss = e.chunk(2, 1);
            h = outNorm.forward(h).mul(ss.get(0).add(new org.bytedeco.pytorch.Scalar(1.0))).add(ss.get(1));
            h = outConv.forward(torch.silu(h));
        } else {
            h = outConv.forward(torch.silu(outNorm.forward(h.add(e))));
        }
        return (skip == null ? x : skip.forward(x)).add(h);
    }
}
