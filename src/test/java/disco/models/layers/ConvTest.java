package disco.models.layers;

import disco.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Conv}'s matrix-product route (wide inputs on a small grid) against LibTorch's convolution: the forward, the
 * input gradient through autograd, and {@link Conv#inputGrad} against the transposed convolution.
 */
class ConvTest {
    private static double relErr(Tensor a, Tensor b) {
        return a.sub(b).abs().max().item_double() / b.abs().max().item_double();
    }

    private static Conv conv(long in, long out, long k) {
        Conv c = Conv.conv2d(in, out, k, k / 2);
        try (NoGradGuard g = new NoGradGuard()) {
            c.named_parameters().get(0).value().copy_(torch.randn(out, in, k, k).mul(new Scalar(1.0 / Math.sqrt(in * k * k))));
            c.named_parameters().get(1).value().copy_(torch.randn(out));
        }
        return c;
    }

    @Test
    void theMatrixProductRouteMatchesLibTorchsConvolution() {
        Torch.init();
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            long wide = Conv.WIDE_INPUT;
            // {batch, in, out, side}: the route (wide, at most SMALL_GRID_ROWS positions), and beside it
            long[][] cases = {{1, wide, 32, 4}, {1, wide + 512, 16, 8}, {2, wide, 8, 4}, {1, wide, 16, 16}, {1, 64, 16, 4}};
            for (long[] c : cases) {
                long n = c[0], in = c[1], out = c[2], side = c[3];
                Conv m = conv(in, out, 3);
                Tensor x0 = torch.randn(n, in, side, side);
                boolean route = n * side * side <= Conv.SMALL_GRID_ROWS && in >= wide;
                assertTrue(m.asMatrixProduct(x0) == route, java.util.Arrays.toString(c));
                Tensor w = m.named_parameters().get(0).value(), b = m.named_parameters().get(1).value();
                Tensor want = torch.conv2d(x0, w, new TensorOptional(b), new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, 1);
                Tensor x = x0.detach().requires_grad_(true);
                Tensor y = m.forward(x);
                assertArrayEquals(want.sizes().vec().get(), y.sizes().vec().get());
                Tensor g = torch.randn(n, out, side, side);
                y.backward(g, new BoolOptional(), false, new TensorArrayRefOptional());
                Tensor wantGrad = torch.conv_transpose2d(g, w, new TensorOptional(), new long[] {1, 1}, new long[] {1, 1},
                        new long[] {0, 0}, 1, new long[] {1, 1});
                Tensor ours;
                try (NoGradGuard ng = new NoGradGuard()) {
                    ours = m.inputGrad(g);
                }
                double ev = relErr(y.detach(), want), ea = relErr(x.grad(), wantGrad), eg = relErr(ours, wantGrad);
                assertTrue(ev < 1e-5 && ea < 1e-5 && eg < 1e-5,
                        java.util.Arrays.toString(c) + ": value " + ev + ", autograd " + ea + ", inputGrad " + eg);
            }
            // a 1x1 convolution keeps LibTorch's op
            assertFalse(conv(wide, 8, 1).asMatrixProduct(torch.randn(1, wide, 4, 4)));
        }
    }
}
