package disco.run;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which executed steps write partial images and refresh {@code progress.png}, with DD's semantics.
 *
 * <p>DD ({@code disco.py}): {@code intermediate_saves} is either a count or a list of steps. A count {@code n > 0}
 * gives {@code steps_per_checkpoint = max(1, (steps - skip_steps - 1) // (n + 1))} and saves at every executed step
 * {@code j > 0} with {@code j % steps_per_checkpoint == 0}, named with the percentage
 * {@code ceil(j / (steps - skip_steps - 1) * 100)}: {@code <batch_name>(<batch_num>)_<i:04>-<pct:02>%.png}. A count of
 * 0 saves nothing (DD sets {@code steps_per_checkpoint = steps + 10}). A list saves at the executed steps {@code j} it
 * contains (0-based, {@code j} of DD's {@code enumerate(samples)}), named {@code <batch_name>(<batch_num>)_<i:04>-<j:03>.png}.
 * Partials go to {@code partials/} (DD's default {@code intermediates_in_subfolder = True}; false puts them beside
 * the images, {@link RunOutputs#partialsInSubfolder}).
 *
 * <p>DiscoArt's {@code save_rate} ({@code > 0}: every step {@code j} with {@code j % save_rate == 0}, including 0; -1 or 0:
 * none) adds partials named like DD's list form. {@code progress.png} (the batch as a grid) is rewritten at every step
 * that writes a partial and at the last step (DiscoArt rewrites its progress image at save steps), or, with DD's
 * {@code display_rate}, at every step {@code j} divisible by it and at the last.
 *
 * @param stepsRun executed steps, {@code steps - skip_steps}
 * @param stepsPerCheckpoint DD's value when {@code intermediate_saves} is a positive count, else 0
 * @param listSteps the steps of a list-form {@code intermediate_saves} (empty otherwise)
 * @param saveRate DiscoArt's {@code save_rate} (≤ 0: off)
 */
public record SaveSchedule(int stepsRun, int stepsPerCheckpoint, Set<Integer> listSteps, int saveRate, int displayRate) {
    public SaveSchedule {
        listSteps = Set.copyOf(new TreeSet<>(listSteps));
    }

    public SaveSchedule(int stepsRun, int stepsPerCheckpoint, Set<Integer> listSteps, int saveRate) {
        this(stepsRun, stepsPerCheckpoint, listSteps, saveRate, 0);
    }

    /**
     * DD's {@code display_rate}: {@code progress.png} is rewritten after every step {@code j} with
     * {@code j % display_rate == 0} and after the last (DD's rule), instead of at the save steps.
     */
    public SaveSchedule withDisplayRate(int rate) {
        return new SaveSchedule(stepsRun, stepsPerCheckpoint, listSteps, saveRate, rate);
    }

    /** DD's rule from {@code steps}, {@code skip_steps} and a count-form {@code intermediate_saves}. */
    public static SaveSchedule ofCount(int steps, int skipSteps, int intermediateSaves, int saveRate) {
        int spc = 0;
        if (intermediateSaves > 0) {
            spc = Math.floorDiv(steps - skipSteps - 1, intermediateSaves + 1);
            if (spc <= 0) spc = 1;
        }
        return new SaveSchedule(steps - skipSteps, spc, Set.of(), saveRate);
    }

    /** A list-form {@code intermediate_saves}. */
    public static SaveSchedule ofList(int steps, int skipSteps, List<Integer> intermediateSaves, int saveRate) {
        return new SaveSchedule(steps - skipSteps, 0, new TreeSet<>(intermediateSaves), saveRate);
    }

    /** DD's {@code total_steps} = executed steps − 1 (the {@code j} of the last step). */
    public int lastStep() {
        return stepsRun - 1;
    }

    /** One partial to write at a step: its file-name suffix after {@code <batch_name>(<batch_num>)_<i:04>-}. */
    public record Partial(String tag) {}

    /** The partials DD (and save_rate) write at executed step {@code j}; usually empty. */
    public List<Partial> partialsAt(int j) {
        List<Partial> out = new ArrayList<>();
        if (stepsPerCheckpoint > 0 && j > 0 && j % stepsPerCheckpoint == 0) {
            out.add(new Partial(String.format("%02d%%", percent(j))));
        }
        boolean byList = listSteps.contains(j);
        boolean byRate = saveRate > 0 && j % saveRate == 0;
        if (byList || byRate) out.add(new Partial(String.format("%03d", j)));
        return out;
    }

    /** DD's {@code math.ceil(j / total_steps * 100)} ({@code total_steps = steps - skip_steps - 1}). */
    public int percent(int j) {
        int total = lastStep();
        if (total <= 0) return 100;
        return (int) Math.ceil((double) j / total * 100);
    }

    /** Whether {@code progress.png} is rewritten after step {@code j}. */
    public boolean progressAt(int j) {
        if (displayRate > 0) return j == lastStep() || j % displayRate == 0;
        return j == lastStep() || !partialsAt(j).isEmpty();
    }

    /** All steps that write at least one partial (for {@code --dry-run}-style listings and tests). */
    public List<Integer> partialSteps() {
        List<Integer> out = new ArrayList<>();
        for (int j = 0; j < stepsRun; j++) if (!partialsAt(j).isEmpty()) out.add(j);
        return out;
    }
}
