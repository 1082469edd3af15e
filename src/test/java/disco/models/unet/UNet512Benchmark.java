package disco.models.unet;

import disco.torch.Tensors;
import disco.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The real 512x512 UNet config (557,973,638 parameters), random-initialised, runs one forward and one backward to x at
 * 64x64 on the CPU. Heavy (about 2.3 GB of weights plus gradients), so it is a benchmark, skipped unless
 * {@code DISCO_BENCH=1}:
 * {@code DISCO_BENCH=1 mvn -o -B test -Dtest=UNet512Benchmark}. Prints the timings on stderr.
 */
@Tag("benchmark")
class UNet512Benchmark {
    @Test
    void forwardAndBackwardAt64() {
        assumeTrue("1".equals(System.getenv("DISCO_BENCH")), "benchmark: set DISCO_BENCH=1 to run");
        Torch.init();
        UNetConfig c = new UNetConfig(512, 256, 2, new double[] {0.5, 1, 1, 2, 2, 4, 4}, new int[] {16, 32, 64}, 4, 64,
                -1, true, true, true, false, false, 0.0);
        Path cfg = Path.of("../shared/fixtures/architectures/unet-512x512_diffusion_uncond_finetune_008100.config.json");
        if (Files.exists(cfg)) c = UNetConfig.read(cfg);
        long t0 = System.nanoTime();
        UNetModel m = new UNetModel(c).randomInit(1);
        disco.models.layers.Params.freeze(m); // as loaded models are: gradients to x only
        long t1 = System.nanoTime();
        assertEquals(557_973_638L, m.parameterCount());
        try (PointerScope scope = new PointerScope()) {
            float[] xv = new float[3 * 64 * 64];
            java.util.SplittableRandom r = new java.util.SplittableRandom(2);
            for (int i = 0; i < xv.length; i++) xv[i] = (float) r.nextGaussian();
            Tensor x = Tensors.fromFloats(xv, 1, 3, 64, 64).set_requires_grad(true);
            long t2 = System.nanoTime();
            Tensor y = m.forward(x, Tensors.fromFloats(new float[] {500f}, 1));
            long t3 = System.nanoTime();
            y.narrow(1, 0, 3).sum().backward();
            long t4 = System.nanoTime();
            double g = 0;
            for (float v : Tensors.toFloats(x.grad())) g += v * v;
            assertTrue(Double.isFinite(g) && g > 0);
            System.err.printf("UNet512 (CPU, 64x64): build+init %.1f s, forward %.2f s, backward %.2f s%n",
                    (t1 - t0) / 1e9, (t3 - t2) / 1e9, (t4 - t3) / 1e9);
        }
    }
}
