package disco.kernels;

import disco.torch.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * Drawn cutouts of one batch: the cuts, the cut size and, when a cut adds noise, the standard normals
 * {@code [K,3,3,S,S]} (row-major) its noise stages use.
 */
public record CutSet(List<Cut> cuts, int size, float[] noise) {
    public CutSet {
        cuts = List.copyOf(cuts);
        if (noise != null && noise.length != (long) cuts.size() * 9 * size * size) {
            throw new IllegalArgumentException("cut set: noise has " + noise.length + " values, expected K*9*S*S");
        }
    }

    /** The noise as a CPU float32 tensor (null when no cut needs it); move it with {@code to(device)}. */
    public Tensor noiseTensor() {
        return noise == null ? null : Tensors.fromFloats(noise, cuts.size(), 3, 3, size, size);
    }

    public Tensor forward(Tensor image) {
        Tensor n = noiseTensor();
        if (n != null && image.is_cuda()) n = n.to(image.device(), n.scalar_type());
        return Cutouts.forward(image, cuts, size, n);
    }

    public Tensor backward(Tensor image, Tensor gradOut) {
        Tensor n = noiseTensor();
        if (n != null && image.is_cuda()) n = n.to(image.device(), n.scalar_type());
        return Cutouts.backward(image, cuts, size, n, gradOut);
    }
}
