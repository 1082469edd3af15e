package disco.models.clip;

import disco.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Nn#linear} (a 1x1 convolution on the CPU) against LibTorch's {@code linear}: values and input gradient. */
class NnLinearTest {
    private static double relErr(Tensor a, Tensor b) {
        return a.sub(b).abs().max().item_double() / b.abs().max().item_double();
    }

    private static Tensor[] valueAndGrad(Tensor x0, Tensor w, Tensor b, Tensor g, boolean ours) {
        Tensor x = x0.detach().requires_grad_(true);
        Tensor y = ours ? Nn.linear(x, w, b) : torch.linear(x, w, new TensorOptional(b));
        y.backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
        return new Tensor[] {y.detach(), x.grad()};
    }

    @Test
    void matchesLibTorchLinearForwardAndInputGradient() {
        Torch.init();
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(7);
            long[][] shapes = {{2, 5, 48}, {7, 48}, {3, 1, 48}};
            for (long[] shape : shapes) {
                Tensor x = torch.randn(shape);
                Tensor w = torch.randn(24, 48).mul(new Scalar(0.1));
                Tensor b = torch.randn(24);
                long[] outShape = shape.clone();
                outShape[outShape.length - 1] = 24;
                Tensor g = torch.randn(outShape);
                Tensor[] want = valueAndGrad(x, w, b, g, false);
                Tensor[] got = valueAndGrad(x, w, b, g, true);
                assertArrayEquals(outShape, got[0].sizes().vec().get());
                assertArrayEquals(shape, got[1].sizes().vec().get());
                double ev = relErr(got[0], want[0]), eg = relErr(got[1], want[1]);
                assertTrue(ev < 1e-5 && eg < 1e-5, java.util.Arrays.toString(shape) + ": value " + ev + ", grad " + eg);
            }
            // a strided input takes LibTorch's linear: the same values
            Tensor x = torch.randn(48, 6).t();
            Tensor w = torch.randn(24, 48), b = torch.randn(24);
            assertTrue(relErr(Nn.linear(x, w, b), torch.linear(x, w, new TensorOptional(b))) < 1e-6);
        }
    }
}
