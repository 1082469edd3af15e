package disco.guidance;

import disco.torch.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.function.UnaryOperator;

/**
 * A CLIP image tower as the guidance sees it: normalised cutouts [K, 3, S, S] to embeddings [K, D] (float32), and
 * the gradient on the embeddings pulled back to the cutouts. Autograd runs only inside the network.
 */
public interface ImageEncoder {
    /** The cutout size S the model takes. */
    int inputResolution();

    /** Encodes with a graph kept for one {@link Encoded#backward} call. */
    Encoded encode(Tensor normalisedCuts);

    /** One encoding with its graph. */
    interface Encoded {
        /** [K, D] float32, detached. */
        Tensor embeddings();

        /** {@code (d emb / d cuts)^T g}: [K, D] → [K, 3, S, S]; frees the graph. */
        Tensor backward(Tensor gradEmbeddings);
    }

    /** An encoder over any differentiable network function (e.g. {@code ClipModel::encodeImage}). */
    static ImageEncoder of(int inputResolution, UnaryOperator<Tensor> encodeImage) {
        return new ImageEncoder() {
            @Override
            public int inputResolution() {
                return inputResolution;
            }

            @Override
            public Encoded encode(Tensor cuts) {
                // the network's intermediates are created in a scope of their own: their handles go when it
                // closes, so what autograd saved is freed by the pull-back (in the caller's scope they lived on
                // until the step ended, every call's forward activations at once)
                Tensor leaf, emb, value;
                try (PointerScope s = new PointerScope(); AutoGradMode on = new AutoGradMode(true)) {
                    leaf = Tensors.own(cuts.detach().requires_grad_(true));
                    emb = Tensors.own(encodeImage.apply(leaf).to(torch.ScalarType.Float));
                    value = Tensors.own(emb.detach());
                }
                Tensors.adopt(value);
                return new Encoded() {
                    private boolean used;

                    @Override
                    public Tensor embeddings() {
                        return value;
                    }

                    @Override
                    public Tensor backward(Tensor g) {
                        if (used) throw new IllegalStateException("encoding already pulled back");
                        used = true;
                        try {
                            return Tensors.scoped(() -> Tensors.vjp(emb, leaf, g));
                        } finally {
                            emb.close();
                            leaf.close();
                        }
                    }
                };
            }
        };
    }
}
