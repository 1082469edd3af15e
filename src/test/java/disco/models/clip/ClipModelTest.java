package disco.models.clip;

import org.junit.jupiter.api.extension.ExtendWith;
import disco.torch.OneThread;
import disco.torch.Tensors;
import disco.reference.ClipReferenceChecks;
import disco.reference.Fixtures;
import disco.util.DiscoException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@ExtendWith(OneThread.class)
class ClipModelTest {
    @Test
    void loadReadsTheArchitectureFromTheFile() {
        Path dir = Fixtures.referenceA().orElse(null);
        assumeTrue(dir != null, Fixtures.missingMessage());
        for (String name : ClipReferenceChecks.clipNames(dir)) {
            try (PointerScope scope = new PointerScope()) {
                ClipModel m = ClipModel.load(dir.resolve("clip-" + name + ".pt"));
                // float16 weights arrive as float32, and LibTorch's registered tensors are the ones we compute with
                var dict = m.named_parameters();
                for (long i = 0; i < dict.size(); i++) {
                    Tensor reg = dict.get(i).value();
                    Tensor ours = m.stateDict().get(dict.get(i).key().getString());
                    assertEquals(torch.ScalarType.Float, reg.scalar_type().intern());
                    assertTrue(reg.is_same(ours), dict.get(i).key().getString());
                }
                assertEquals(m.config().isVit(), name.startsWith("ViT"));
                try (NoGradGuard g = new NoGradGuard()) {
                    Tensor img = torch.rand(new long[] {2, 3, m.inputResolution(), m.inputResolution()});
                    Tensor e = m.encodeImage(img);
                    assertArrayEquals(new long[] {2, m.embedDim()}, Tensors.shape(e));
                    for (float v : disco.torch.Tensors.toFloats(e)) assertTrue(Float.isFinite(v));
                }
                m.close();
            }
        }
    }

    @Test
    void demoModelsAreDeterministicAndNamed() {
        for (String name : ClipModel.DEMO_NAMES) {
            try (PointerScope scope = new PointerScope()) {
                ClipModel a = ClipModel.demo(name), b = ClipModel.demo(name);
                Map<String, Tensor> sa = a.stateDict(), sb = b.stateDict();
                assertEquals(sa.keySet(), sb.keySet());
                for (String k : sa.keySet()) {
                    assertArrayEquals(disco.torch.Tensors.toFloats(sa.get(k)), disco.torch.Tensors.toFloats(sb.get(k)), name + " " + k);
                }
                assertEquals(name.startsWith("ViT"), a.config().isVit());
                // the demo's shapes are a valid CLIP state dict: rebuilding from them gives the same config
                assertEquals(a.config(), ClipConfig.fromShapes(a.shapes(), name));
                a.close();
                b.close();
            }
        }
        DiscoException e = assertThrows(DiscoException.class, () -> ClipModel.demo("RN-huge"));
        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().contains("RN-huge"));
    }

    @Test
    void releasingTheTextTowerFreesItsWeightsAndKeepsTheImageTower() {
        for (String name : ClipModel.DEMO_NAMES) {
            try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                ClipModel a = ClipModel.demo(name), b = ClipModel.demo(name);
                Tensor img = torch.rand(new long[] {2, 3, a.inputResolution(), a.inputResolution()});
                long[][] ids = new long[1][a.config().contextLength()];
                ids[0][0] = 1;
                ids[0][1] = 2;
                Tensor tokens = Tensors.fromLongRows(ids);
                long text = 0, all = 0;
                for (Map.Entry<String, Tensor> e : a.stateDict().entrySet()) {
                    all += e.getValue().nbytes();
                    if (!e.getKey().startsWith("visual.") && !e.getKey().equals("logit_scale")) text += e.getValue().nbytes();
                }
                assertTrue(a.hasTextTower());
                assertEquals(text, a.releaseTextTower());
                assertTrue(text > 0 && text < all);
                assertFalse(a.hasTextTower());
                long left = 0;
                for (Tensor t : a.stateDict().values()) left += t.nbytes();
                assertEquals(all - text, left, name + ": what is left is the image tower");
                assertArrayEquals(Tensors.toFloats(b.encodeImage(img)), Tensors.toFloats(a.encodeImage(img)), name);
                assertTrue(b.encodeText(tokens).defined());
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.encodeText(tokens));
                assertTrue(e.getMessage().contains("text tower"), e.getMessage());
                a.close();
                b.close();
            }
        }
    }

    @Test
    void missingKeyIsBadInputNamingFileAndKey() {
        try (PointerScope scope = new PointerScope()) {
            ClipModel m = ClipModel.demo("ViT-tiny");
            Map<String, long[]> shapes = new HashMap<>(m.shapes());
            shapes.remove("ln_final.weight");
            DiscoException e = assertThrows(DiscoException.class, () -> ClipConfig.fromShapes(shapes, "x.pt"));
            assertEquals(2, e.exitCode());
            assertTrue(e.getMessage().startsWith("x.pt: ln_final.weight: expected"), e.getMessage());
            m.close();
        }
    }

    /**
     * The gradient of a scalar of encodeImage w.r.t. the image agrees with central differences (the model in
     * float64 for the comparison, so the differences are accurate).
     */
    @Test
    void encodeImageGradientMatchesFiniteDifferences() {
        for (String name : ClipModel.DEMO_NAMES) {
            try (PointerScope scope = new PointerScope()) {
                ClipModel m = ClipModel.demo(name);
                m.to(torch.ScalarType.Double, false);
                int r = m.inputResolution();
                SplittableRandom rng = new SplittableRandom(7);
                float[] x0 = new float[3 * r * r];
                for (int i = 0; i < x0.length; i++) x0[i] = (float) (rng.nextDouble() * 2 - 1);
                float[] w = new float[m.embedDim()];
                for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextDouble() * 2 - 1);
                Tensor weights = disco.torch.Tensors.fromFloats(w, 1, m.embedDim()).to(torch.ScalarType.Double);

                Tensor x = disco.torch.Tensors.fromFloats(x0, 1, 3, r, r).to(torch.ScalarType.Double);
                x.set_requires_grad(true);
                Tensor loss = m.encodeImage(x).mul(weights).sum();
                loss.backward();
                double[] grad = disco.torch.Tensors.toDoubles(x.grad());
                double gmax = 0;
                for (double g : grad) gmax = Math.max(gmax, Math.abs(g));
                assertTrue(gmax > 0, name + ": gradient is zero");

                double h = 1e-4;
                int checked = 0;
                for (int k = 0; k < 3; k++) {
                    int i = rng.nextInt(x0.length);
                    double fd = (f(m, x0, i, h, weights, r) - f(m, x0, i, -h, weights, r)) / (2 * h);
                    assertEquals(grad[i], fd, 1e-4 * gmax + 1e-4 * Math.abs(fd),
                            name + ": d loss / d x[" + i + "]");
                    checked++;
                }
                assertEquals(3, checked);
                m.close();
            }
        }
    }

    private static double f(ClipModel m, float[] x0, int i, double h, Tensor weights, int r) {
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor x = disco.torch.Tensors.fromFloats(x0, 1, 3, r, r).to(torch.ScalarType.Double);
            x.view(-1).narrow(0, i, 1).add_(new Scalar(h));
            return m.encodeImage(x).mul(weights).sum().item_double();
        }
    }

    /**
     * encode_image agrees with a plain-Java float64 transcription of clip/model.py, on the fixture's CLIP files and
     * on multi-head variants (the tiny towers have one ViT head; the ResNet pool has several).
     */
    @Test
    void encodeImageMatchesAnIndependentTranscription() {
        Path dir = Fixtures.referenceA().orElse(null);
        List<ClipModel> models = new java.util.ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            if (dir != null) {
                for (String name : ClipReferenceChecks.clipNames(dir)) models.add(ClipModel.load(dir.resolve("clip-" + name + ".pt")));
            }
            // a 2-head ViT (width 128) and a ResNet with 2 blocks in a stage, random weights
            models.add(ClipModel.random(new ClipConfig(16, 32, List.of(), 1, 128, 16, 2, 77, 49408, 64, 1, 1), 11));
            models.add(ClipModel.random(new ClipConfig(16, 64, List.of(2, 1, 1, 1), 0, 4, 0, 2, 77, 49408, 64, 1, 1), 12));
            for (ClipModel m : models) {
                int r = m.inputResolution();
                SplittableRandom rng = new SplittableRandom(3);
                float[] img = new float[3 * r * r];
                for (int i = 0; i < img.length; i++) img[i] = (float) (rng.nextDouble() * 4 - 2);
                double[] ref = new ClipImageReference(m).encodeImage(toDouble(img));
                float[] ours;
                try (NoGradGuard g = new NoGradGuard()) {
                    ours = disco.torch.Tensors.toFloats(m.encodeImage(disco.torch.Tensors.fromFloats(img, 1, 3, r, r)));
                }
                double maxDiff = 0, maxRef = 0;
                for (int i = 0; i < ref.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
                    maxRef = Math.max(maxRef, Math.abs(ref[i]));
                }
                assertEquals(ref.length, ours.length);
                assertTrue(maxRef > 0);
                assertTrue(maxDiff / maxRef < 1e-5, m.config() + ": max rel err " + maxDiff / maxRef);
                m.close();
            }
        }
    }

    /**
     * Folding a ResNet's batch norms into its convolutions keeps the function: values and input gradient against
     * the unfolded model, and the folded state dict read by the independent transcription, on norms with
     * non-trivial statistics. A ViT has nothing to fold; a second fold does nothing.
     */
    @Test
    void foldedImageNormsComputeTheSameFunction() {
        try (PointerScope scope = new PointerScope()) {
            ClipModel m = ClipModel.random(new ClipConfig(16, 64, List.of(2, 1, 1, 1), 0, 4, 0, 2, 77, 49408, 64, 1, 1), 12);
            torch.manual_seed(5);
            try (NoGradGuard g = new NoGradGuard()) {
                for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
                    String k = e.getKey();
                    if (!k.startsWith("visual.") || !(k.contains(".bn") || k.contains("downsample.1"))) continue;
                    Tensor t = e.getValue();
                    if (k.endsWith("running_var")) t.copy_(torch.rand(t.sizes()).add(new Scalar(0.5)));
                    else if (k.endsWith(".weight")) t.copy_(torch.randn(t.sizes()).mul(new Scalar(0.5)).add(new Scalar(1.0)));
                    else if (k.endsWith(".bias") || k.endsWith("running_mean")) t.copy_(torch.randn(t.sizes()).mul(new Scalar(0.3)));
                }
            }
            int r = m.inputResolution();
            SplittableRandom rng = new SplittableRandom(4);
            float[] img = new float[2 * 3 * r * r];
            for (int i = 0; i < img.length; i++) img[i] = (float) (rng.nextDouble() * 4 - 2);
            double[] ref = new ClipImageReference(m).encodeImage(toDouble(java.util.Arrays.copyOf(img, 3 * r * r)));
            Tensor gOut = torch.randn(2, m.embedDim());
            Tensor[] before = valueAndGrad(m, img, r, gOut);
            assertTrue(m.foldImageNorms());
            assertFalse(m.foldImageNorms());
            Tensor[] after = valueAndGrad(m, img, r, gOut);
            double ev = relErr(after[0], before[0]), eg = relErr(after[1], before[1]);
            assertTrue(ev < 1e-5 && eg < 1e-5, "folded vs unfolded: value " + ev + ", input gradient " + eg);
            double[] refFolded = new ClipImageReference(m).encodeImage(toDouble(java.util.Arrays.copyOf(img, 3 * r * r)));
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < ref.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(refFolded[i] - ref[i]));
                maxRef = Math.max(maxRef, Math.abs(ref[i]));
            }
            assertTrue(maxRef > 0 && maxDiff / maxRef < 1e-5, "the folded state dict: max rel err " + maxDiff / maxRef);
            m.close();
            ClipModel vit = ClipModel.random(new ClipConfig(16, 32, List.of(), 1, 128, 16, 2, 77, 49408, 64, 1, 1), 11);
            assertFalse(vit.foldImageNorms());
            vit.close();
        }
    }

    private static Tensor[] valueAndGrad(ClipModel m, float[] img, int r, Tensor gOut) {
        Tensor x = disco.torch.Tensors.fromFloats(img, 2, 3, r, r).requires_grad_(true);
        Tensor y = m.encodeImage(x);
        y.backward(gOut, new org.bytedeco.pytorch.BoolOptional(), false, new org.bytedeco.pytorch.TensorArrayRefOptional());
        return new Tensor[] {y.detach(), x.grad()};
    }

    private static double relErr(Tensor a, Tensor b) {
        return a.sub(b).abs().max().item_double() / b.abs().max().item_double();
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
