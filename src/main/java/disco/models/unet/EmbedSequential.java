package disco.models.unet;

import disco.models.layers.Modules;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

/** {@code TimestepEmbedSequential}: children named 0, 1, ... applied in order, each given the embedding. */
final class EmbedSequential extends Module implements Block {
    private final List<Block> layers = new ArrayList<>();

    <M extends Module & Block> EmbedSequential add(M layer) {
        Modules.register(this, Integer.toString(layers.size()), layer);
        layers.add(layer);
        return this;
    }

    /** A plain convolution (the first input block). */
    EmbedSequential add(disco.models.layers.Conv conv) {
        Modules.register(this, Integer.toString(layers.size()), conv);
        layers.add(new Block() {
            @Override
            public Tensor forward(Tensor x, Tensor emb) {
                return conv.forward(x);
            }

            @Override
            public List<disco.models.layers.Conv> convs() {
                return List.of(conv);
            }
        });
        return this;
    }

    /** The layers in order. */
    List<Block> layers() {
        return java.util.Collections.unmodifiableList(layers);
    }

    @Override
    public List<disco.models.layers.Conv> convs() {
        List<disco.models.layers.Conv> out = new ArrayList<>();
        for (Block b : layers) out.addAll(b.convs());
        return out;
    }

    @Override
    public Tensor forward(Tensor x, Tensor emb) {
        for (Block b : layers) {
            Tensor in = x;
            x = disco.torch.Tensors.scoped(() -> b.forward(in, emb));
        }
        return x;
    }
}
