package disco.sampling;

import java.util.List;

/**
 * DD's symmetry transformation: before the step whose respaced index is {@code int(n_steps_run * (1 - p))} for a
 * {@code p} in {@code transformation_percent}, the left half is mirrored onto the right half (horizontal) and then
 * the top half onto the bottom half (vertical). {@code n_steps_run = steps - skip_steps}. DD applies it in its DDIM
 * loop only; here both samplers apply it (DD's PLMS loop silently ignores it).
 */
public record Symmetry(boolean horizontal, boolean vertical, List<Double> transformationPercent) {
    public static final Symmetry NONE = new Symmetry(false, false, List.of());

    public Symmetry {
        transformationPercent = List.copyOf(transformationPercent);
        for (double p : transformationPercent) {
            if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("transformation_percent must be in [0, 1], got " + p);
        }
    }

    public boolean active() {
        return (horizontal || vertical) && !transformationPercent.isEmpty();
    }

    /** Whether the transformation is applied before the step at respaced {@code index} of a run of {@code nRun}. */
    public boolean appliesBefore(int index, int nRun) {
        if (!active()) return false;
        for (double p : transformationPercent) {
            if ((int) (nRun * (1 - p)) == index) return true;
        }
        return false;
    }
}
