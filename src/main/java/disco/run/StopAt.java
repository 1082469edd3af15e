package disco.run;

import disco.util.DiscoException;

/**
 * {@code --stop-at N|P%}: stop after {@code N} executed steps (or {@code P} percent of them, rounded up), save the
 * partial and a checkpoint there; {@code disco resume} finishes the run.
 *
 * @param steps executed steps to run, when given as a count (else -1)
 * @param percent percentage of the executed steps, when given as a percentage (else NaN)
 */
public record StopAt(int steps, double percent) {
    public static StopAt parse(String text) {
        String t = text.strip();
        try {
            if (t.endsWith("%")) {
                double p = Double.parseDouble(t.substring(0, t.length() - 1).strip());
                if (!(p > 0 && p < 100)) throw DiscoException.badInput("--stop-at: expected a percentage in (0, 100), found '" + text + "'");
                return new StopAt(-1, p);
            }
            int n = Integer.parseInt(t);
            if (n < 1) throw DiscoException.badInput("--stop-at: expected a step count >= 1 or a percentage, found '" + text + "'");
            return new StopAt(n, Double.NaN);
        } catch (NumberFormatException e) {
            throw DiscoException.badInput("--stop-at: expected N (executed steps) or P% (of them), found '" + text + "'");
        }
    }

    /** Executed steps to run before stopping, of a run of {@code stepsRun}; {@code stepsRun} means "never stops". */
    public int stepsFor(int stepsRun) {
        int n = steps >= 0 ? steps : (int) Math.ceil(stepsRun * percent / 100.0 - 1e-9);
        return Math.max(1, Math.min(n, stepsRun));
    }

    @Override
    public String toString() {
        return steps >= 0 ? Integer.toString(steps) : (percent + "%");
    }
}
