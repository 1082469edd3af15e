package disco.kernels;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code disco/cutouts.h} (the cutout/augmentation stage). Raw entry points: tensor pointers are
 * {@code data_ptr()} of contiguous float32 tensors on the device given by {@code device}; {@code cuts} is host
 * memory ({@code K * CUT_FIELDS} floats); {@code stream} is a {@code cudaStream_t} as a number (0 = the default
 * stream; ignored on the CPU); {@code noiseKey} is the stream key's 64 bits. Callers use the checked wrapper
 * {@link Cutouts}.
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
            @Cast("float*") Pointer out, int device, @Cast("void*") long stream);

    public static native int disco_cutouts_backward(@Cast("const float*") Pointer image, long n, long h, long w,
            @Cast("const float*") Pointer cuts, long k, long s, @Cast("const float*") Pointer noise,
            @Cast("const float*") Pointer gradOut, @Cast("float*") Pointer gradImage, int device,
            @Cast("void*") long stream);

    public static native int disco_cutouts_forward_keyed(@Cast("const float*") Pointer image, long n, long h, long w,
            @Cast("const float*") Pointer cuts, long k, long s, @Cast("uint64_t") long noiseKey, long noiseStart,
            @Cast("float*") Pointer out, @Cast("float*") Pointer state, int device, @Cast("void*") long stream);

    public static native int disco_cutouts_backward_keyed(@Cast("const float*") Pointer image, long n, long h, long w,
            @Cast("const float*") Pointer cuts, long k, long s, @Cast("uint64_t") long noiseKey, long noiseStart,
            @Cast("const float*") Pointer state, @Cast("const float*") Pointer gradOut,
            @Cast("float*") Pointer gradImage, int device, @Cast("void*") long stream);

    public static native int disco_cutouts_noise(@Cast("uint64_t") long noiseKey, long noiseStart, long count,
            @Cast("float*") Pointer out, int device, @Cast("void*") long stream);

    public static native int disco_cutouts_baseline_forward(@Cast("const float*") Pointer image, long n, long h,
            long w, @Cast("const float*") Pointer cuts, long k, long s, @Cast("const float*") Pointer noise,
            @Cast("float*") Pointer out);

    public static native int disco_cutouts_baseline_backward(@Cast("const float*") Pointer image, long n, long h,
            long w, @Cast("const float*") Pointer cuts, long k, long s, @Cast("const float*") Pointer noise,
            @Cast("const float*") Pointer gradOut, @Cast("float*") Pointer gradImage);
}
