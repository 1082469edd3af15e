package disco.kernels;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code disco/cutouts.h} (the cutout/augmentation stage). Raw entry points: tensor pointers are
 * {@code data_ptr()} of contiguous float32 tensors on the device given by {@code device}; {@code cuts} is host
 * memory ({@code K * CUT_FIELDS} floats). Callers use the checked wrapper {@link Cutouts}.
 */
@Platform(include = "disco_kernels.h", link = "disco_kernels", library = "jnidisco_kernels")
public final class CutoutsNative {
    static {
        Loader.load();
    }

    private CutoutsNative() {}

    /** Floats per cut row (DISCO_CUT_FIELDS); the offsets are those of {@code disco/cutouts.h}. */
    public static final int CUT_FIELDS = 25;

    public static native int disco_cutouts_forward(@Cast("const float*") Pointer image, long n, long h, long w,
            @Cast("const float*") Pointer cuts, long k, long s, @Cast("const float*") Pointer noise,
            @Cast("float*") Pointer out, int device, Pointer stream);

    public static native int disco_cutouts_backward(@Cast("const float*") Pointer image, long n, long h, long w,
            @Cast("const float*") Pointer cuts, long k, long s, @Cast("const float*") Pointer noise,
            @Cast("const float*") Pointer gradOut, @Cast("float*") Pointer gradImage, int device, Pointer stream);
}
