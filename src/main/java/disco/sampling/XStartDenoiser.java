package disco.sampling;

import disco.torch.Tensors;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.Tensor;

import static disco.torch.Scalars.f;
import static disco.torch.Scalars.perSample;

/**
 * A network that predicts the clean image directly, as a {@link Denoiser}: DD's secondary model, called with the
 * cosine time {@code atan2(sigma, alpha) * 2 / pi} of the respaced index ({@code alpha = sqrt(ab)},
 * {@code sigma = sqrt(1 - ab)}, float32) and returning {@code pred}. Its eps is re-derived from pred.
 */
public final class XStartDenoiser extends NetworkDenoiser<XStartDenoiser.Network> {
    /** The network: {@code x} [N, C, H, W] and float32 cosine times [N] to {@code pred} [N, C, H, W]. */
    @FunctionalInterface
    public interface Network {
        Tensor forward(Tensor x, Tensor cosineT);
    }

    public XStartDenoiser(Network net, SpacedAlphas alphas) {
        super(net, alphas);
    }

    @Override
    public Evaluation evaluate(Tensor x, int index, boolean withGrad) {
        Tensor ts = perSample(x, alphas.cosineTime(index));
        Tensor leaf;
        Tensor predGraph;
        try (AutoGradMode mode = new AutoGradMode(withGrad)) {
            leaf = withGrad ? x.detach().requires_grad_(true) : x.detach();
            predGraph = net.forward(leaf, ts);
        }
        Tensor pred = predGraph.detach();
        Tensor eps = leaf.detach().mul(f(alphas.sqrtRecipAlphaBar(index))).sub(pred)
                .div(f(alphas.sqrtRecipM1AlphaBar(index)));
        return new EpsDenoiser.GraphEvaluation(index, leaf, eps, pred, withGrad ? predGraph : null) {
            @Override
            protected Tensor pullBack(Tensor g) {
                return Tensors.vjp(graphOutput, leafX, g);
            }
        };
    }
}
