package disco.kernels;

import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code disco/guidance.h} (the guidance-gradient stage). Raw entry points: pointers are
 * {@code Tensor.data_ptr()} of contiguous float32 tensors on the device given by {@code device} (0 CPU, 1 CUDA),
 * {@code stream} a cudaStream_t as an address ({@link CudaStreams#of}: LibTorch's current stream; 0 on the CPU).
 * Callers use the checked wrappers {@link Losses} and {@link GradientStage}.
 */
@Platform(include = "disco_kernels.h", link = "disco_kernels", library = "jnidisco_kernels")
public final class GuidanceNative {
    static {
        Loader.load();
    }

    private GuidanceNative() {}

    public static native int disco_tv_loss(@Cast("const float*") Pointer x, long n, long c, long h, long w,
            @Cast("float*") Pointer loss, int device, @Cast("void*") long stream);

    public static native int disco_tv_loss_backward(@Cast("const float*") Pointer x,
            @Cast("const float*") Pointer gradLoss, long n, long c, long h, long w, @Cast("float*") Pointer gradX,
            int accumulate, int device, @Cast("void*") long stream);

    public static native int disco_range_loss(@Cast("const float*") Pointer x, long n, long c, long h, long w,
            @Cast("float*") Pointer loss, int device, @Cast("void*") long stream);

    public static native int disco_range_loss_backward(@Cast("const float*") Pointer x,
            @Cast("const float*") Pointer gradLoss, long n, long c, long h, long w, @Cast("float*") Pointer gradX,
            int accumulate, int device, @Cast("void*") long stream);

    public static native int disco_sat_loss(@Cast("const float*") Pointer x, long count, @Cast("float*") Pointer loss,
            int device, @Cast("void*") long stream);

    public static native int disco_sat_loss_backward(@Cast("const float*") Pointer x,
            @Cast("const float*") Pointer gradLoss, long count, @Cast("float*") Pointer gradX, int accumulate,
            int device, @Cast("void*") long stream);

    public static native int disco_spherical_dist(@Cast("const float*") Pointer x, @Cast("const float*") Pointer y,
            long a, long b, long d, @Cast("float*") Pointer out, int device, @Cast("void*") long stream);

    public static native int disco_spherical_dist_backward(@Cast("const float*") Pointer x,
            @Cast("const float*") Pointer y, @Cast("const float*") Pointer gradOut, long a, long b, long d,
            @Cast("float*") Pointer gradX, @Cast("float*") Pointer gradY, int accumulate, int device,
            @Cast("void*") long stream);

    /** mask is host memory ({@code int32_t}); nanFlags ({@code int32_t [m+1]}) is on {@code device}. */
    public static native int disco_guidance_grad(@Cast("const float*") Pointer xIn, @Cast("const float*") Pointer pred,
            @Cast("const float*") Pointer modelGrads, @Cast("const int32_t*") IntPointer mask, long m,
            @Cast("const float*") Pointer extraGrad, long n, long c, long h, long w, float clipScale, float tvScale,
            float satScale, @Cast("float*") Pointer xInGrad, @Cast("float*") Pointer losses,
            @Cast("int32_t*") Pointer nanFlags, int device, @Cast("void*") long stream);

    public static native int disco_rms_clamp(@Cast("const float*") Pointer g, long count, float clampMax,
            @Cast("float*") Pointer out, @Cast("float*") Pointer rms, int device, @Cast("void*") long stream);

    public static native int disco_rms_clamp_backward(@Cast("const float*") Pointer g,
            @Cast("const float*") Pointer gradOut, long count, float clampMax, @Cast("const float*") Pointer rms,
            @Cast("float*") Pointer gradG,
            int accumulate, int device, @Cast("void*") long stream);
}
