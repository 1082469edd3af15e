package disco.torch;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A LibTorch autocast region on one device type (thread-local, like {@code torch.autocast}): ops on the autocast
 * lower-precision list (conv, linear, matmul, bmm, scaled-dot-product attention) run in the region's dtype, the
 * rest in the dtype of their inputs. Nested regions restore the outer state; leaving the outermost one clears the
 * cast-weight cache. {@link Precision#FP32} is a no-op region. The state is {@code at::autocast}'s, reached through
 * {@link AutocastNative} on every build line (the 2.7.1-1.5.12 presets do not bind it).
 */
public final class Autocast implements AutoCloseable {
    private static volatile boolean ready;

    private final byte device;
    private final boolean active;
    private final boolean prevEnabled;
    private final byte prevType;

    private Autocast(DeviceType device, ScalarType type) {
        this.device = device.value;
        this.active = type != null;
        if (active) {
            init();
            prevEnabled = AutocastNative.disco_autocast_is_enabled(this.device);
            prevType = AutocastNative.disco_autocast_get_dtype(this.device);
            AutocastNative.disco_autocast_set_enabled(this.device, true);
            AutocastNative.disco_autocast_set_dtype(this.device, type.value);
            AutocastNative.disco_autocast_increment_nesting();
        } else {
            prevEnabled = false;
            prevType = 0;
        }
    }

    /** Resolves the functions once, in the libtorch_cpu.so that {@link Torch#init()} loaded. */
    private static void init() {
        if (ready) return;
        synchronized (Autocast.class) {
            if (ready) return;
            Torch.init();
            String lib = TorchLibraries.inspect().dir().resolve("libtorch_cpu.so").toString();
            if (AutocastNative.disco_autocast_init(lib) != 0) {
                throw new IllegalStateException("autocast: " + AutocastNative.disco_autocast_error().getString());
            }
            ready = true;
        }
    }

    /** Enters a region computing in {@code p} on {@code device}'s type. */
    public static Autocast enter(Device device, Precision p) {
        return new Autocast(device.type(), p == Precision.FP32 ? null : p.scalarType());
    }

    /** Whether autocast is on for {@code device}'s type on this thread (tests). */
    public static boolean enabled(DeviceType device) {
        init();
        return AutocastNative.disco_autocast_is_enabled(device.value);
    }

    @Override
    public void close() {
        if (!active) return;
        AutocastNative.disco_autocast_set_dtype(device, prevType);
        AutocastNative.disco_autocast_set_enabled(device, prevEnabled);
        if (AutocastNative.disco_autocast_decrement_nesting() == 0) AutocastNative.disco_autocast_clear_cache();
    }
}
