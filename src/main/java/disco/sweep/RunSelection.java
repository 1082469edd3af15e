package disco.sweep;

import disco.util.DiscoException;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code disco sweep --only SPEC}: the runs to execute (to finish chosen previews). Each spec is a run's name
 * ({@code s1=400_s2=600}; several comma-separated) or a constraint on the sweep's variables as {@code --where} takes
 * it ({@code 's1 >= 600 and s2 == 400'}); a run is chosen when any spec chooses it. A spec that is neither, or one
 * that chooses no run, is bad input naming it.
 */
public final class RunSelection {
    private RunSelection() {}

    public static List<SweepRun> select(List<SweepRun> runs, List<String> specs) {
        Set<SweepRun> chosen = new LinkedHashSet<>();
        for (String spec : specs) {
            List<SweepRun> byName = new ArrayList<>();
            boolean allNames = true;
            for (String part : spec.split(",")) {
                SweepRun r = named(runs, part.strip());
                if (r == null) {
                    allNames = false;
                    break;
                }
                byName.add(r);
            }
            if (allNames) {
                chosen.addAll(byName);
                continue;
            }
            Expr e;
            try {
                e = Expr.parse(spec);
            } catch (IllegalArgumentException ex) {
                throw DiscoException.badInput("--only: '" + Expr.abbreviate(spec) + "': neither a run of the sweep (e.g. "
                        + runs.get(0).name() + ") nor a constraint on its variables (" + ex.getMessage() + ")");
            }
            List<SweepRun> hit = new ArrayList<>();
            for (SweepRun r : runs) {
                try {
                    if (e.test(r.vars())) hit.add(r);
                } catch (IllegalArgumentException ex) {
                    throw DiscoException.badInput("--only: '" + Expr.abbreviate(spec) + "': neither a run of the sweep (e.g. "
                            + runs.get(0).name() + ") nor a constraint on its variables (" + ex.getMessage() + ")");
                }
            }
            if (hit.isEmpty()) throw DiscoException.badInput("--only: '" + Expr.abbreviate(spec) + "': chooses no run of the sweep");
            chosen.addAll(hit);
        }
        List<SweepRun> out = new ArrayList<>();
        for (SweepRun r : runs) if (chosen.contains(r)) out.add(r);
        return out;
    }

    private static SweepRun named(List<SweepRun> runs, String name) {
        for (SweepRun r : runs) if (r.name().equals(name)) return r;
        return null;
    }
}
