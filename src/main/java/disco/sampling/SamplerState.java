package disco.sampling;

import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything that crosses steps, explicitly: the current sample {@code x} (x_t before the next step), how many steps
 * have run, PLMS's previous eps values (oldest first) and DD's {@code init} (the init image or perlin init the
 * {@code init_scale} LPIPS term compares with; null when there is none). With the sampler's config, the plan and the noise source
 * it determines the rest of the run exactly, so a run can be checkpointed ({@link #tensors()}, {@link #ints()}),
 * resumed ({@link #of}) and forked.
 *
 * <p>Ownership: the state holds one reference to each tensor; {@link #close()} releases them. A step does not close
 * its input state; the caller closes it when it no longer needs it (or keeps it to fork).
 */
public final class SamplerState implements AutoCloseable {
    private final int stepsDone;
    private final Tensor x;
    private final List<Tensor> oldEps;
    private final Tensor init;

    /** The tensors passed in are retained by this state (their reference counts are incremented). */
    public SamplerState(int stepsDone, Tensor x, List<Tensor> oldEps) {
        this(stepsDone, x, oldEps, null);
    }

    /** As {@link #SamplerState(int, Tensor, List)}, with DD's {@code init} (null: none). */
    public SamplerState(int stepsDone, Tensor x, List<Tensor> oldEps, Tensor init) {
        if (stepsDone < 0) throw new IllegalArgumentException("stepsDone must be >= 0");
        this.stepsDone = stepsDone;
        this.x = x;
        this.oldEps = List.copyOf(oldEps);
        this.init = init;
        x.retainReference();
        for (Tensor t : this.oldEps) t.retainReference();
        if (init != null) init.retainReference();
    }

    /** DD's {@code init}: the init image (or perlin init) in [-1, 1], or null. */
    public Tensor init() {
        return init;
    }

    /** Executed steps done so far (0 before the first step). */
    public int stepsDone() {
        return stepsDone;
    }

    /** The current sample, [N, 3, H, W]. */
    public Tensor x() {
        return x;
    }

    /** PLMS's previous eps values, oldest first (empty for DDIM and before PLMS's first step). */
    public List<Tensor> oldEps() {
        return oldEps;
    }

    /** Named tensors for a checkpoint: {@code x}, {@code old_eps.0}, {@code old_eps.1}, …, {@code init} when present */
    public Map<String, Tensor> tensors() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("x", x);
        for (int i = 0; i < oldEps.size(); i++) m.put("old_eps." + i, oldEps.get(i));
        if (init != null) m.put("init", init);
        return Collections.unmodifiableMap(m);
    }

    /** Named integers for a checkpoint: {@code steps_done}, {@code old_eps}. */
    public Map<String, Long> ints() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("steps_done", (long) stepsDone);
        m.put("old_eps", (long) oldEps.size());
        return Collections.unmodifiableMap(m);
    }

    /** Rebuilds a state from {@link #tensors()} and {@link #ints()} (e.g. read back from a checkpoint). */
    public static SamplerState of(Map<String, Tensor> tensors, Map<String, Long> ints) {
        Long steps = ints.get("steps_done");
        Long nEps = ints.get("old_eps");
        Tensor x = tensors.get("x");
        if (steps == null || nEps == null || x == null) {
            throw new IllegalArgumentException("sampler state needs x, steps_done and old_eps");
        }
        List<Tensor> eps = new ArrayList<>();
        for (int i = 0; i < nEps; i++) {
            Tensor e = tensors.get("old_eps." + i);
            if (e == null) throw new IllegalArgumentException("sampler state: missing old_eps." + i);
            eps.add(e);
        }
        return new SamplerState(Math.toIntExact(steps), x, eps, tensors.get("init"));
    }

    @Override
    public void close() {
        x.close();
        for (Tensor t : oldEps) t.close();
        if (init != null) init.close();
    }
}
