package disco.models.unet;

import disco.torch.Tensors;
import disco.models.checkpoint.TorchCheckpoint;
import disco.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UNetModelTest {
    @BeforeAll
    static void init() {
        Torch.init();
        // on a shared 2-core machine, OpenMP barriers between busy cores cost more than they save for these small ops
        org.bytedeco.pytorch.global.torch.set_num_threads(1);
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return v;
    }

    /** QKVAttentionLegacy / QKVAttention written out with loops from guided-diffusion's definitions. */
    private static float[] naiveAttention(float[] qkv, int b, int heads, int ch, int t, boolean newOrder) {
        float[] out = new float[b * heads * ch * t];
        double scale = 1 / Math.sqrt(Math.sqrt(ch));
        for (int n = 0; n < b; n++) {
            for (int h = 0; h < heads; h++) {
                // channel index of q/k/v row c for this head, in the [b, 3*heads*ch, t] layout
                int[] qRow = new int[ch], kRow = new int[ch], vRow = new int[ch];
                for (int c = 0; c < ch; c++) {
                    if (newOrder) { // chunk(3) first, then heads
                        qRow[c] = h * ch + c;
                        kRow[c] = heads * ch + h * ch + c;
                        vRow[c] = 2 * heads * ch + h * ch + c;
                    } else { // heads first, then q/k/v within each head
                        qRow[c] = h * 3 * ch + c;
                        kRow[c] = h * 3 * ch + ch + c;
                        vRow[c] = h * 3 * ch + 2 * ch + c;
                    }
                }
                int width = 3 * heads * ch;
                for (int i = 0; i < t; i++) {
                    double[] w = new double[t];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < t; j++) {
                        double s = 0;
                        for (int c = 0; c < ch; c++) {
                            s += qkv[(n * width + qRow[c]) * t + i] * scale * qkv[(n * width + kRow[c]) * t + j] * scale;
                        }
                        w[j] = s;
                        max = Math.max(max, s);
                    }
                    double sum = 0;
                    for (int j = 0; j < t; j++) sum += w[j] = Math.exp(w[j] - max);
                    for (int c = 0; c < ch; c++) {
                        double a = 0;
                        for (int j = 0; j < t; j++) a += w[j] / sum * qkv[(n * width + vRow[c]) * t + j];
                        out[(n * heads * ch + h * ch + c) * t + i] = (float) a;
                    }
                }
            }
        }
        return out;
    }

    @Test
    void attentionOrdersMatchTheirDefinitions() {
        int b = 2, heads = 3, ch = 4, t = 5;
        float[] qkv = random(b * 3 * heads * ch * t, 7);
        try (PointerScope scope = new PointerScope()) {
            for (boolean newOrder : new boolean[] {false, true}) {
                Tensor out = AttentionBlock.attention(Tensors.fromFloats(qkv, b, 3L * heads * ch, t), heads, newOrder);
                assertArrayEquals(new long[] {b, (long) heads * ch, t}, Tensors.shape(out));
                float[] ours = Tensors.toFloats(out);
                float[] ref = naiveAttention(qkv, b, heads, ch, t, newOrder);
                for (int i = 0; i < ref.length; i++) assertEquals(ref[i], ours[i], 1e-5, "newOrder=" + newOrder + " at " + i);
            }
        }
    }

    @Test
    void timestepEmbeddingIsGuidedDiffusions() {
        try (PointerScope scope = new PointerScope()) {
            float[] e = Tensors.toFloats(UNetModel.timestepEmbedding(Tensors.fromFloats(new float[] {0f, 700f}, 2), 7));
            // dim 7: half = 3 frequencies exp(-ln(10000) * k / 3), [cos, sin], one zero pad
            for (int n = 0; n < 2; n++) {
                double t = n == 0 ? 0 : 700;
                for (int k = 0; k < 3; k++) {
                    double f = Math.exp(-Math.log(10000) * k / 3);
                    assertEquals(Math.cos(t * f), e[n * 7 + k], 2e-4);
                    assertEquals(Math.sin(t * f), e[n * 7 + 3 + k], 2e-4);
                }
                assertEquals(0f, e[n * 7 + 6]);
            }
        }
    }

    @Test
    void demoIsDeterministicAndDifferentiableToX() {
        UNetModel a = UNetModel.demo();
        UNetModel b = UNetModel.demo();
        java.util.Map<String, Tensor> sa = TorchCheckpoint.stateDict(a), sb = TorchCheckpoint.stateDict(b);
        assertEquals(sa.keySet(), sb.keySet());
        for (String k : sa.keySet()) assertArrayEquals(Tensors.toFloats(sa.get(k)), Tensors.toFloats(sb.get(k)), k);
        float[] xv = random(3 * 32 * 32, 11); // any multiple of 4 works; small keeps the test quick
        try (PointerScope scope = new PointerScope()) {
            Tensor x = Tensors.fromFloats(xv, 1, 3, 32, 32).set_requires_grad(true);
            Tensor y = a.forward(x, Tensors.fromFloats(new float[] {999f}, 1));
            assertArrayEquals(new long[] {1, 6, 32, 32}, Tensors.shape(y), "learn_sigma: 6 channels");
            y.narrow(1, 0, 3).sum().backward();
            float[] g = Tensors.toFloats(x.grad());
            double norm = 0;
            for (float v : g) {
                assertTrue(Float.isFinite(v));
                norm += v * v;
            }
            assertTrue(norm > 0, "gradient reaches x");
        }
    }

    @Test
    void fp16TorsoAsConvertToFp16() {
        UNetModel m = UNetModel.demo();
        float[] xv = random(3 * 32 * 32, 12);
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.fromFloats(new float[] {400f}, 1);
            float[] ref;
            try (NoGradGuard g = new NoGradGuard()) {
                ref = Tensors.toFloats(m.forward(Tensors.fromFloats(xv, 1, 3, 32, 32), t));
            }
            m.convertTorsoTo(org.bytedeco.pytorch.global.torch.ScalarType.Half);
            java.util.Map<String, Tensor> sd = TorchCheckpoint.stateDict(m);
            assertEquals("float16", TorchCheckpoint.dtypeName(sd.get("input_blocks.0.0.weight").scalar_type()));
            assertEquals("float16", TorchCheckpoint.dtypeName(sd.get("middle_block.1.qkv.weight").scalar_type()));
            assertEquals("float32", TorchCheckpoint.dtypeName(sd.get("middle_block.1.norm.weight").scalar_type()));
            assertEquals("float32", TorchCheckpoint.dtypeName(sd.get("time_embed.0.weight").scalar_type()));
            assertEquals("float32", TorchCheckpoint.dtypeName(sd.get("input_blocks.1.0.emb_layers.1.weight").scalar_type()));
            assertEquals("float32", TorchCheckpoint.dtypeName(sd.get("out.2.weight").scalar_type()));
            Tensor x = Tensors.fromFloats(xv, 1, 3, 32, 32).set_requires_grad(true);
            Tensor y = m.forward(x, t);
            assertEquals("float32", TorchCheckpoint.dtypeName(y.scalar_type()));
            float[] half = Tensors.toFloats(y);
            double err = disco.util.Compare.maxRelErr(half, ref);
            assertTrue(err < 2e-2, "half torso vs float: " + err);
            y.sum().backward();
            for (float v : Tensors.toFloats(x.grad())) assertTrue(Float.isFinite(v));
        }
    }

    @Test
    void newAttentionOrderAndPlainResamplingBuildAndRun() {
        // a config exercising the other branches: no scale-shift, conv up/down samplers, new attention order, 0.5 mult
        UNetConfig c = new UNetConfig(32, 64, 1, new double[] {0.5, 1}, new int[] {1, 2}, 2, -1, 4, false, false, false,
                true, false, 0.0);
        UNetModel m = new UNetModel(c).randomInit(3);
        java.util.Map<String, Tensor> sd = TorchCheckpoint.stateDict(m);
        assertTrue(sd.containsKey("input_blocks.2.0.op.weight"), "Downsample conv is named op");
        assertTrue(sd.containsKey("output_blocks.1.2.conv.weight"), "Upsample conv is named conv");
        assertTrue(sd.containsKey("output_blocks.0.1.qkv.weight"));
        assertArrayEquals(new long[] {32, 3, 3, 3}, Tensors.shape(sd.get("input_blocks.0.0.weight")));
        assertArrayEquals(new long[] {3, 32, 3, 3}, Tensors.shape(sd.get("out.2.weight")));
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Tensor y = m.forward(Tensors.fromFloats(random(3 * 32 * 32, 5), 1, 3, 32, 32),
                    Tensors.fromFloats(new float[] {10f}, 1));
            assertArrayEquals(new long[] {1, 3, 32, 32}, Tensors.shape(y));
            for (float v : Tensors.toFloats(y)) assertTrue(Float.isFinite(v));
        }
    }

    /** Autograd's forward and pull-back at x with a random output gradient: {output, grad}. */
    private static float[][] autograd(UNetModel m, float[] xv, long[] shape, float[] gv, float t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = Tensors.fromFloats(xv, shape).set_requires_grad(true);
            Tensor y = m.forward(x, Tensors.fromFloats(new float[] {t, t}, 2));
            Tensor g = Tensors.vjp(y, x, Tensors.fromFloats(gv, Tensors.shape(y)));
            return new float[][] {Tensors.toFloats(y), Tensors.toFloats(g)};
        }
    }

    private static float[][] traced(UNetModel m, float[] xv, long[] shape, float[] gv, float t, boolean lean) {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = Tensors.fromFloats(xv, shape);
            Tensor ts = Tensors.fromFloats(new float[] {t, t}, 2);
            java.util.function.UnaryOperator<java.util.function.Supplier<Tensor>> id = f -> f;
            try (UNetModel.Traced tr = lean ? m.traceLean(x, ts, id) : m.trace(x, ts, id)) {
                float[] y = Tensors.toFloats(tr.output());
                long[] outShape = Tensors.shape(tr.output());
                float[] g = Tensors.toFloats(tr.vjp(Tensors.fromFloats(gv, outShape)));
                assertThrows(IllegalStateException.class, () -> tr.vjp(Tensors.fromFloats(gv, outShape)));
                return new float[][] {y, g};
            }
        }
    }

    @Test
    void leanAndBlockTracesGiveAutogradsOutputAndGradient() {
        UNetConfig other = new UNetConfig(32, 64, 1, new double[] {0.5, 1}, new int[] {1, 2}, 2, -1, 4, false, false, false,
                true, false, 0.0);
        for (UNetModel m : java.util.List.of(UNetModel.demo(), new UNetModel(other).randomInit(3))) {
            long[] shape = {2, 3, 32, 32};
            float[] xv = random(2 * 3 * 32 * 32, 21);
            int outCh = m.config().outChannels();
            float[] gv = random(2 * outCh * 32 * 32, 22);
            float[][] ref = autograd(m, xv, shape, gv, 321f);
            for (boolean lean : new boolean[] {true, false}) {
                float[][] got = traced(m, xv, shape, gv, 321f, lean);
                double ey = disco.util.Compare.maxRelErr(got[0], ref[0]);
                double eg = disco.util.Compare.maxRelErr(got[1], ref[1]);
                System.err.printf("UNetModelTest: %s trace vs autograd: output %.3g, gradient %.3g%n",
                        lean ? "lean" : "block", ey, eg);
                assertTrue(ey < 1e-6, "output: " + ey);
                assertTrue(eg < 1e-5, "gradient: " + eg);
            }
        }
    }
}
