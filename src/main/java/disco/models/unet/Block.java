package disco.models.unet;

import disco.models.layers.Conv;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/** A layer of a {@code TimestepEmbedSequential}: residual blocks use the embedding, the others ignore it. */
interface Block {
    Tensor forward(Tensor x, Tensor emb);

    /** The convolutions of this layer (what use_fp16 converts). */
    List<Conv> convs();
}
