package disco.torch;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The autocast shim (at::autocast resolved in libtorch_cpu.so): a region casts matmul, nests, and restores. */
class AutocastTest {
    @Test
    void aBf16RegionCastsMatmulAndRestoresTheOuterState() {
        Torch.init();
        Device cpu = new Device(torch.DeviceType.CPU);
        try (PointerScope scope = new PointerScope()) {
            Tensor a = torch.ones(4, 4), b = torch.ones(4, 4);
            assertFalse(Autocast.enabled(torch.DeviceType.CPU));
            try (Autocast outer = Autocast.enter(cpu, Precision.BF16)) {
                assertTrue(Autocast.enabled(torch.DeviceType.CPU));
                assertEquals(torch.ScalarType.BFloat16.value, a.matmul(b).scalar_type().value);
                try (Autocast inner = Autocast.enter(cpu, Precision.FP32)) {
                    assertTrue(Autocast.enabled(torch.DeviceType.CPU));  // FP32 is a no-op region
                }
                assertEquals(torch.ScalarType.BFloat16.value, a.matmul(b).scalar_type().value);
            }
            assertFalse(Autocast.enabled(torch.DeviceType.CPU));
            assertEquals(torch.ScalarType.Float.value, a.matmul(b).scalar_type().value);
        }
    }
}
