package disco.torch;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Copies between Java arrays and CPU tensors (float32 / float64 / int64), for loading fixtures, reading results and moving
 * host data in and out of LibTorch; every package uses this one class.
 */
public final class Tensors {
    private Tensors() {}

    /**
     * Runs {@code f} in a {@link PointerScope} of its own and moves its result to the enclosing scope: the Java
     * objects of every intermediate tensor {@code f} makes are released when it returns, so their memory goes back
     * as soon as nothing else (autograd's saved tensors, the result) holds it — as Python frees a temporary when its
     * last reference goes. Networks call their blocks through this so that a forward holds one block's temporaries
     * at a time instead of the whole pass's until the step ends.
     */
    public static Tensor scoped(java.util.function.Supplier<Tensor> f) {
        Tensor r;
        try (PointerScope s = new PointerScope()) {
            // a handle of its own: f may return a view into a container (TensorVector.get) that the scope frees
            r = own(f.get());
        }
        return adopt(r);
    }

    /**
     * A handle of its own to {@code t}'s tensor with one reference more than the current {@link PointerScope}
     * releases: it outlives that scope (and {@code t}'s handle), and is the caller's to {@link #adopt} or close.
     */
    public static Tensor own(Tensor t) {
        Tensor r = new Tensor(t);
        r.retainReference();
        return r;
    }

    /**
     * Hands a handle made by {@link #own} (or retained likewise) to the calling thread's current
     * {@link PointerScope}, which then frees it; with no scope it stays the caller's. Returns {@code t}.
     */
    public static Tensor adopt(Tensor t) {
        PointerScope outer = PointerScope.getInnerScope();
        if (outer != null) {
            outer.attach(t);
            t.releaseReference();
        }
        return t;
    }

    /** A new float32 CPU tensor of {@code shape} holding a copy of {@code data}. */
    public static Tensor fromFloats(float[] data, long... shape) {
        Torch.init();
        long n = 1;
        for (long s : shape) n *= s;
        if (n != data.length) throw new IllegalArgumentException("shape holds " + n + " values, data " + data.length);
        Tensor t = torch.empty(shape, new TensorOptions(ScalarType.Float), null);
        if (data.length > 0) new FloatPointer(t.data_ptr()).put(data, 0, data.length);
        return t;
    }

    /** A new int64 CPU tensor of {@code shape} holding a copy of {@code data}. */
    public static Tensor fromLongs(long[] data, long... shape) {
        Torch.init();
        long n = 1;
        for (long s : shape) n *= s;
        if (n != data.length) throw new IllegalArgumentException("shape holds " + n + " values, data " + data.length);
        Tensor t = torch.empty(shape, new TensorOptions(ScalarType.Long), null);
        if (data.length > 0) new LongPointer(t.data_ptr()).capacity(data.length).put(data);
        return t;
    }

    /** A new int64 CPU tensor [rows, length of a row] of equally long rows (token ids). */
    public static Tensor fromLongRows(long[][] rows) {
        int n = rows.length, l = rows[0].length;
        long[] flat = new long[n * l];
        for (int i = 0; i < n; i++) {
            if (rows[i].length != l) throw new IllegalArgumentException("row " + i + " has " + rows[i].length + " values, row 0 " + l);
            System.arraycopy(rows[i], 0, flat, i * l, l);
        }
        return fromLongs(flat, n, l);
    }

    /** The values of any tensor as float32, in row-major order (copied to the CPU when needed). */
    public static float[] toFloats(Tensor t) {
        Tensor c = t.detach().to(new org.bytedeco.pytorch.Device("cpu"), ScalarType.Float).contiguous();
        float[] out = new float[(int) c.numel()];
        if (out.length > 0) new FloatPointer(c.data_ptr()).get(out, 0, out.length);
        return out;
    }

    /** The values of any tensor as float64, in row-major order. */
    public static double[] toDoubles(Tensor t) {
        Tensor c = t.detach().to(new org.bytedeco.pytorch.Device("cpu"), ScalarType.Double).contiguous();
        double[] out = new double[(int) c.numel()];
        if (out.length > 0) new DoublePointer(c.data_ptr()).get(out, 0, out.length);
        return out;
    }

    /**
     * {@code (d out / d x)^T g} through autograd (LibTorch's {@code torch::autograd::grad}): the vector-Jacobian
     * product at the leaf {@code x}; frees the graph behind {@code out}.
     */
    public static Tensor vjp(Tensor out, Tensor x, Tensor g) {
        return vjpAll(out, g, x).get(0);
    }

    /** {@link #vjp} with respect to several leaves at once, in their order; frees the graph. */
    public static TensorVector vjpAll(Tensor out, Tensor g, Tensor... xs) {
        return torch.grad(new TensorVector(out), new TensorVector(xs), new TensorVector(g), new BoolOptional(false),
                false, false);
    }

    /** The sizes of {@code t}. */
    public static long[] shape(Tensor t) {
        long[] out = new long[(int) t.dim()];
        for (int i = 0; i < out.length; i++) out[i] = t.size(i);
        return out;
    }

    /** Whether every element is finite. */
    public static boolean allFinite(Tensor t) {
        return t.isfinite().all().item_bool();
    }
}
