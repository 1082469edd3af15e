package disco.torch;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * LibTorch scalars and per-sample time inputs of schedule values, cast as DD's code casts them; the one place
 * every package gets them from ({@code import static disco.torch.Scalars.s}).
 */
public final class Scalars {
    private Scalars() {}

    /** A float64 scalar. */
    public static Scalar s(double v) {
        return new Scalar(v);
    }

    /** A float32 scalar, the way DD's {@code _extract_into_tensor} casts a float64 schedule value. */
    public static Scalar f(double v) {
        return new Scalar((float) v);
    }

    /** A float32 [N] tensor on {@code x}'s device (N = x's batch size) holding {@code v} cast to float32: the time
     *  input a network gets for every sample of the batch. */
    public static Tensor perSample(Tensor x, double v) {
        return torch.full(new long[] {x.size(0)}, f(v), new TensorOptions(torch.ScalarType.Float))
                .to(x.device(), torch.ScalarType.Float);
    }
}
