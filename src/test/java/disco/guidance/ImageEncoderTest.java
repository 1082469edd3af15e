package disco.guidance;

import disco.torch.Tensors;
import disco.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageEncoderTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void theNetworksIntermediatesAreNotKeptByTheCallersScope() {
        Tensor[] mid = new Tensor[1];
        ImageEncoder enc = ImageEncoder.of(2, t -> {
            mid[0] = t.mul(new Scalar(3.0)); // an intermediate autograd does not need (mul by a constant)
            return mid[0].square().sum(new long[] {1, 2, 3}, false, new org.bytedeco.pytorch.ScalarTypeOptional()).unsqueeze(1);
        });
        try (PointerScope outer = new PointerScope()) {
            Tensor cuts = Tensors.fromFloats(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 1, 3, 2, 2);
            ImageEncoder.Encoded e = enc.encode(cuts);
            assertTrue(mid[0].isNull(), "the intermediate's handle is released when the encoding returns");
            assertFalse(e.embeddings().isNull());
            Tensor g = e.backward(Tensors.fromFloats(new float[] {1f}, 1, 1));
            // d/dx sum((3x)^2) = 18 x
            float[] want = new float[12];
            for (int i = 0; i < 12; i++) want[i] = 18f * (i + 1);
            assertArrayEquals(want, Tensors.toFloats(g), 1e-4f);
            assertThrows(IllegalStateException.class, () -> e.backward(Tensors.fromFloats(new float[] {1f}, 1, 1)));
            assertFalse(e.embeddings().isNull(), "the embeddings live in the caller's scope");
        }
    }
}
