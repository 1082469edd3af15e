package disco.torch;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A LibTorch autocast region on one device type (thread-local, like {@code torch.autocast}): ops on the autocast
 * lower-precision list (conv, linear, matmul, bmm, scaled-dot-product attention) run in the region's dtype, the
 * rest in the dtype of their inputs. Nested regions restore the outer state; leaving the outermost one clears the
 * cast-weight cache. {@link Precision#FP32} is a no-op region.
 */
public final class Autocast implements AutoCloseable {
    private final DeviceType device;
    private final boolean active;
    private final boolean prevEnabled;
    private final ScalarType prevType;

    private Autocast(DeviceType device, ScalarType type) {
        this.device = device;
        this.active = type != null;
        if (active) {
            prevEnabled = torch.is_autocast_enabled(device);
            prevType = torch.get_autocast_dtype(device);
            torch.set_autocast_enabled(device, true);
            torch.set_autocast_dtype(device, type);
            torch.increment_nesting();
        } else {
            prevEnabled = false;
            prevType = null;
        }
    }

    /** Enters a region computing in {@code p} on {@code device}'s type. */
    public static Autocast enter(Device device, Precision p) {
        return new Autocast(device.type(), p == Precision.FP32 ? null : p.scalarType());
    }

    @Override
    public void close() {
        if (!active) return;
        torch.set_autocast_dtype(device, prevType);
        torch.set_autocast_enabled(device, prevEnabled);
        if (torch.decrement_nesting() == 0) torch.clear_cache();
    }
}
