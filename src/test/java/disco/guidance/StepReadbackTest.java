package disco.guidance;

import disco.sampling.EpsDenoiser;
import disco.sampling.GuidanceCall;
import disco.sampling.GuidanceResult;
import disco.torch.Tensors;
import disco.torch.Torch;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static disco.torch.Scalars.s;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The values a guidance call logs stay on the device and come back in one read per call: the same numbers as the
 * per-batch {@code .item()} reads gave (DD's {@code losses.sum().item()}), one {@link StepReadback#read()} per call
 * whatever the number of models and cutn batches.
 */
class StepReadbackTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** Records, per call, what the old code read on the host at that point (read here, outside the counted path). */
    static final class Recording implements LossKernels {
        final LossKernels k;
        final List<Double> itemLosses = new ArrayList<>();
        final List<Double> itemRms = new ArrayList<>();

        Recording(LossKernels k) {
            this.k = k;
        }

        public ClipTerm clipLoss(Tensor emb, Tensor target, Tensor weights, long n) {
            ClipTerm t = k.clipLoss(emb, target, weights, n);
            itemLosses.add((double) t.lossSum().item_float()); // the old Losses.clipLoss: losses.sum().cpu().item_float()
            return t;
        }

        public XInGrad xInGrad(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double cgs, int cutnBatches,
                               double tvScale, double satScale, Tensor initGrad) {
            return k.xInGrad(xIn, pred, modelGrads, cgs, cutnBatches, tvScale, satScale, initGrad);
        }

        public Clamped rmsClamp(Tensor g, double clampMax) {
            itemRms.add(g.square().mean().sqrt().item_double()); // the old rmsClamp's first rms (torch, float32)
            return k.rmsClamp(g, clampMax);
        }
    }

    private static GuidanceResult guide(LossKernels lk, boolean clamp, int index, List<String> logs) {
        ClipGuidanceTest.Setup st = ClipGuidanceTest.setup("False", clamp);
        EpsDenoiser unet = new EpsDenoiser(ClipGuidanceTest::net, st.alphas());
        ClipGuidance g = new ClipGuidance(st.plan(), unet, null, st.models(), new ClipGuidanceTest.FlipCutouts(), lk, 1,
                logs::add);
        Tensor x = ClipGuidanceTest.randn(9, ClipGuidanceTest.N, 3, ClipGuidanceTest.H, ClipGuidanceTest.W).mul(s(1.5));
        return g.guide(new GuidanceCall(x, index, index, null, 0, 3, 0));
    }

    @Test
    void loggedLossesAreTheValuesThePerBatchReadsGaveAndTheCallReadsOnce() {
        for (LossKernels base : List.of(new NativeLossKernels(), new TorchLossKernels())) {
            for (boolean clamp : new boolean[] {true, false}) {
                Recording rec = new Recording(base);
                long before = StepReadback.reads();
                // index 6: both models on, 2 cutn batches each: 4 loss values
                GuidanceResult r = guide(rec, clamp, 6, new ArrayList<>());
                String what = base.getClass().getSimpleName() + (clamp ? " clamped" : " not clamped");
                assertEquals(1, StepReadback.reads() - before, what + ": one host read for the call");
                assertEquals(4, r.losses().size(), what);
                for (int i = 0; i < 4; i++) {
                    assertEquals(rec.itemLosses.get(i), r.losses().get(i).value(), 0.0, what + ": loss " + i);
                }
                if (clamp) {
                    // the RMS the clamp used, computed once: the kernel's (double accumulation) or the twin's (torch)
                    double old = rec.itemRms.get(0);
                    assertEquals(old, r.rmsBefore(), base instanceof TorchLossKernels ? 0.0 : 1e-6 * old, what);
                    assertEquals(Math.min(r.rmsBefore(), 0.05), r.rmsAfter(), 0.0, what);
                } else {
                    float rms = r.grad().square().mean().sqrt().item_float(); // what the old code read
                    assertEquals(rms, r.rmsBefore(), 0.0, what);
                    assertEquals(r.rmsBefore(), r.rmsAfter(), 0.0, what);
                }
            }
        }
    }

    @Test
    void aGuardedCallAlsoReadsOnceAndReturnsZeros() {
        ClipGuidanceTest.Setup st = ClipGuidanceTest.setup("False", true);
        EpsDenoiser nanNet = new EpsDenoiser((x, ts) -> x.mul(s(Double.NaN)), st.alphas());
        for (LossKernels lk : List.of(new NativeLossKernels(), new TorchLossKernels())) {
            List<String> logs = new ArrayList<>();
            ClipGuidance g = new ClipGuidance(st.plan(), nanNet, null, st.models(), new ClipGuidanceTest.FlipCutouts(),
                    lk, 1, logs::add);
            long before = StepReadback.reads();
            GuidanceResult r = g.guide(new GuidanceCall(ClipGuidanceTest.randn(3, ClipGuidanceTest.N, 3,
                    ClipGuidanceTest.H, ClipGuidanceTest.W), 6, 6, null, 0, 1, 0));
            assertEquals(1, StepReadback.reads() - before, lk.getClass().getSimpleName());
            assertTrue(r.nanGuarded());
            assertTrue(Double.isNaN(r.rmsBefore()));
            assertEquals(0.0, r.rmsAfter());
            assertEquals(1, logs.size());
            assertTrue(logs.get(0).contains("A, B"), logs.get(0)); // both models' gradients had the NaN
            for (float v : Tensors.toFloats(r.grad())) assertEquals(0f, v);
        }
    }

    @Test
    void readbackKeepsTheOrderAndConvertsIntegerFlags() {
        StepReadback rb = new StepReadback();
        int a = rb.add(Tensors.fromFloats(new float[] {1.5f, -2f}, 2));
        int b = rb.add(Tensors.fromLongs(new long[] {0, 1, 1}, 3));
        int c = rb.add(Tensors.fromFloats(new float[] {0.25f}, 1).sum());
        long before = StepReadback.reads();
        float[] v = rb.read();
        assertArrayEquals(new float[] {1.5f, -2f, 0, 1, 1, 0.25f}, v);
        assertEquals(0, a);
        assertEquals(2, b);
        assertEquals(5, c);
        assertSame(v, rb.read(), "a second read returns the values already read");
        assertEquals(1, StepReadback.reads() - before);
        assertThrows(IllegalStateException.class, () -> rb.add(Tensors.fromFloats(new float[] {1}, 1)));
    }

    /** The guidance path has no host read besides the readback (a read there would be a sync per batch again). */
    @Test
    void theLossPathHasNoOtherHostRead() throws IOException {
        for (String f : List.of("src/main/java/disco/guidance/ClipGuidance.java",
                "src/main/java/disco/guidance/NativeLossKernels.java",
                "src/main/java/disco/guidance/TorchLossKernels.java", "src/main/java/disco/kernels/Losses.java")) {
            String src = Files.readString(Path.of(f));
            for (String read : List.of("item_", ".item(", "toFloats(", "toDoubles(", ".cpu()")) {
                assertFalse(src.contains(read), f + " reads a value back with " + read);
            }
        }
    }
}
