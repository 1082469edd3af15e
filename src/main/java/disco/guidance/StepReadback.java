package disco.guidance;

import disco.torch.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The values one guidance call reports to the host (DD's per-batch CLIP loss values, the NaN flags, the gradient
 * RMS), kept on the device while the call runs and read back together, once, at its end: one transfer and one
 * wait for the device per call instead of one {@code .item()} per cutn batch. Each part is a float tensor (or an
 * integer one, whose small values float32 holds exactly) on the call's device, not read until {@link #read()}.
 * {@link #reads()} counts the reads (the tests assert one per guidance call).
 */
final class StepReadback {
    private static final AtomicLong READS = new AtomicLong();

    private final List<Tensor> parts = new ArrayList<>();
    private long size;
    private float[] values;

    /** Adds the elements of {@code t} (any shape, flattened) and returns the index of its first value. */
    int add(Tensor t) {
        if (values != null) throw new IllegalStateException("StepReadback: already read");
        Tensor flat = t.detach().reshape(-1);
        if (flat.scalar_type().value != torch.ScalarType.Float.value) {
            flat = flat.to(flat.device(), torch.ScalarType.Float);
        }
        long at = size;
        parts.add(flat);
        size += flat.numel();
        return (int) at;
    }

    /** Every added value, in order: the one host read (a single device-to-host copy). */
    float[] read() {
        if (values != null) return values;
        if (parts.isEmpty()) return values = new float[0];
        TensorVector v = new TensorVector();
        for (Tensor p : parts) v.push_back(p);
        Tensor all = parts.size() == 1 ? parts.get(0) : torch.cat(v, 0);
        values = Tensors.toFloats(all);
        READS.incrementAndGet();
        return values;
    }

    /** How many reads all instances have done (a counter for the tests). */
    static long reads() {
        return READS.get();
    }
}
