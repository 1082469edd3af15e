package disco.models.secondary;

import disco.torch.Tensors;
import disco.models.checkpoint.TorchCheckpoint;
import disco.reference.Fixtures;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SecondaryModelTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void widthIsInferredFromTheWeights() {
        assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path f = Fixtures.referenceA().get().resolve("secondary.pt");
        Map<String, Tensor> w = TorchCheckpoint.read(f);
        SecondaryModel m = SecondaryModel.fromWeights(w, f);
        assertEquals(Tensors.shape(w.get("net.0.0.weight"))[0], m.width());
        TorchCheckpoint.loadInto(m, w, f); // strict: same keys and shapes
    }

    @Test
    void notASecondaryModelIsBadInput() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("timestep_embed.weight", new long[] {8, 1});
        DiscoException e = assertThrows(DiscoException.class, () -> SecondaryModel.fromShapes(shapes, Path.of("x.pt")));
        assertTrue(e.getMessage().contains("x.pt: net.0.0.weight: missing key"), e.getMessage());
        shapes.put("net.0.0.weight", new long[] {16, 20, 3, 3});
        e = assertThrows(DiscoException.class, () -> SecondaryModel.fromShapes(shapes, Path.of("x.pt")));
        assertTrue(e.getMessage().contains("expected shape [c, 19, 3, 3]"), e.getMessage());
    }

    @Test
    void demoOutputsAreConsistentWithTheCosineSchedule() {
        SecondaryModel m = SecondaryModel.demo();
        SplittableRandom r = new SplittableRandom(4);
        float[] xv = new float[2 * 3 * 64 * 64];
        for (int i = 0; i < xv.length; i++) xv[i] = (float) r.nextGaussian();
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            float alpha = 0.8f, sigma = 0.6f;
            float t = (float) SecondaryModel.cosineT(alpha, sigma);
            Tensor[] as = SecondaryModel.alphaSigma(Tensors.fromFloats(new float[] {t}, 1));
            assertEquals(alpha, Tensors.toFloats(as[0])[0], 1e-6);
            assertEquals(sigma, Tensors.toFloats(as[1])[0], 1e-6);
            Tensor x = Tensors.fromFloats(xv, 2, 3, 64, 64);
            SecondaryModel.Output o = m.forward(x, Tensors.fromFloats(new float[] {t, t}, 2));
            assertArrayEquals(new long[] {2, 3, 64, 64}, Tensors.shape(o.v()));
            // x = alpha * pred + sigma * eps for any v
            float[] xs = Tensors.toFloats(x), p = Tensors.toFloats(o.pred()), e = Tensors.toFloats(o.eps());
            for (int i = 0; i < xs.length; i++) assertEquals(xs[i], alpha * p[i] + sigma * e[i], 1e-4);
            float[] again = Tensors.toFloats(SecondaryModel.demo().forward(x, Tensors.fromFloats(new float[] {t, t}, 2)).v());
            assertArrayEquals(Tensors.toFloats(o.v()), again, "demo is deterministic");
        }
    }
}
