package disco.torch;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code native/include/disco_autocast.h}: LibTorch's {@code at::autocast} functions resolved
 * in the loaded {@code libtorch_cpu.so}, on every build line (the 2.7.1-1.5.12 presets bind none of them). Use
 * {@link Autocast}.
 */
@Platform(include = "disco_autocast.h", link = "dl", library = "jnidisco_autocast")
final class AutocastNative {
    static {
        Loader.load();
    }

    private AutocastNative() {}

    static native int disco_autocast_init(String libtorchCpu);

    static native @Cast("const char*") BytePointer disco_autocast_error();

    static native boolean disco_autocast_is_enabled(@Cast("int8_t") byte device);

    static native void disco_autocast_set_enabled(@Cast("int8_t") byte device, boolean on);

    static native @Cast("int8_t") byte disco_autocast_get_dtype(@Cast("int8_t") byte device);

    static native void disco_autocast_set_dtype(@Cast("int8_t") byte device, @Cast("int8_t") byte type);

    static native int disco_autocast_increment_nesting();

    static native int disco_autocast_decrement_nesting();

    static native void disco_autocast_clear_cache();
}
