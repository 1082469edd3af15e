package disco.kernels;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code disco/guidance.h} (the guidance-gradient stage). Raw entry points: pointers are
 * {@code Tensor.data_ptr()} of contiguous float32 tensors on the device given by {@code device}; callers use the
 * checked wrappers {@link Losses} and {@link GradientStage}.
 */
@Platform(include = "disco_kernels.h", link = "disco_kernels", library = "jnidisco_kernels")
public final class GuidanceNative {
    static {
        Loader.load();
    }

    private GuidanceNative() {}

    public static native int disco_tv_loss(@Cast("const float*") Pointer x, long n, long c, long h, long w,
            @Cast("float*") Pointer loss, int device, Pointer stream);

    public static native int disco_tv_loss_backward(@Cast("const float*") Pointer x,
            @Cast("const float*") Pointer gradLoss, long n, long c, long h, long w, @Cast("float*") Pointer gradX,
            int accumulate, int device, Pointer stream);
}
