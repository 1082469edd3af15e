package disco.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one executed step cost: wall time per stage (nanoseconds, keyed by stage name) and counts of network
 * passes. Stage names: {@code unet.forward}, {@code unet.backward}, {@code secondary.forward},
 * {@code secondary.backward}, {@code clip.<model>.forward}, {@code clip.<model>.backward}, {@code cutouts} (forward
 * and adjoint), {@code gradient} (the gradient stage: CLIP loss and its gradient, the x_in gradient with tv/sat and
 * the NaN guard, the clamp), and {@code sampler}: the step's remaining time (the DDIM/PLMS update and the
 * guidance's glue: CLIP normalisation, slicing and summing the per-batch gradients). With CLIP workers
 * ({@code --clip-workers} above 1) a step's CLIP calls, with their cutouts and losses, run side by side: each call's
 * stage times are its own, so their sum can exceed the wall time they took (the {@code sampler} stage then shows
 * 0). Stages may be charged from several threads.
 */
public final class StepStats {
    public static final String[] COUNTS = {"unet_forwards", "unet_forwards_with_grad", "unet_backwards",
            "secondary_forwards", "secondary_backwards", "clip_calls", "clip_images"};

    private final Map<String, Long> nanos = new LinkedHashMap<>();
    private final Map<String, Long> counts = new LinkedHashMap<>();
    private long totalNanos;

    public StepStats() {
        for (String c : COUNTS) counts.put(c, 0L);
    }

    public synchronized void addTime(String stage, long ns) {
        nanos.merge(stage, ns, Long::sum);
    }

    public synchronized void count(String what, long n) {
        counts.merge(what, n, Long::sum);
    }

    /** Sets the step's total; the {@code sampler} stage becomes the time no other stage took. */
    public synchronized void finish(long total) {
        totalNanos = total;
        long other = 0;
        for (Map.Entry<String, Long> e : nanos.entrySet()) if (!e.getKey().equals("sampler")) other += e.getValue();
        nanos.put("sampler", Math.max(0, total - other));
    }

    public long totalNanos() {
        return totalNanos;
    }

    public Map<String, Long> nanos() {
        return nanos;
    }

    public Map<String, Long> counts() {
        return counts;
    }

    public long count(String what) {
        return counts.getOrDefault(what, 0L);
    }
}
