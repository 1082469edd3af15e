package disco.models.unet;

import org.bytedeco.pytorch.Tensor;

/** A layer of a {@code TimestepEmbedSequential}: residual blocks use the embedding, the others ignore it. */
interface Block {
    Tensor forward(Tensor x, Tensor emb);
}
