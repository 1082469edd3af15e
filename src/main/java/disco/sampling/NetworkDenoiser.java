package disco.sampling;

/**
 * What the two {@link Denoiser}s over a network share: the network and the schedule it is evaluated on
 * ({@link EpsDenoiser}: an eps model such as the UNet; {@link XStartDenoiser}: a pred_xstart model such as DD's
 * secondary model).
 */
abstract class NetworkDenoiser<N> implements Denoiser {
    protected final N net;
    protected final SpacedAlphas alphas;

    NetworkDenoiser(N net, SpacedAlphas alphas) {
        this.net = net;
        this.alphas = alphas;
    }

    @Override
    public SpacedAlphas alphas() {
        return alphas;
    }
}
