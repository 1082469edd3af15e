package disco.sweep;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs of a sweep that are the same run: the same trajectory fingerprint, batch count and plan entry at every
 * executed step (e.g. {@code s1=0} and {@code s1=200} when the skipped steps cover schedule entries 0..299, so RN50
 * is off on every executed step of both). The prefix tree computes such runs once — they share every node — and the
 * dry run, contact sheet and index say which cells they are.
 */
public final class Duplicates {
    private Duplicates() {}

    /** Groups of two or more runs that are the same run, each in sweep order, groups by their first run. */
    public static List<List<SweepRun>> groups(List<SweepRun> runs) {
        Map<List<Object>, List<SweepRun>> byKey = new LinkedHashMap<>();
        Map<SweepRun, String> fp = new HashMap<>();
        for (SweepRun r : runs) {
            List<Object> key = new ArrayList<>();
            key.add(fp.computeIfAbsent(r, SweepRun::fingerprint));
            key.add(r.settings().nBatches());
            key.add(r.stepsRun());
            for (int j = 0; j < r.stepsRun(); j++) key.add(r.stepKey(j));
            byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
        }
        List<List<SweepRun>> out = new ArrayList<>();
        for (List<SweepRun> g : byKey.values()) if (g.size() > 1) out.add(List.copyOf(g));
        return out;
    }

    /** Each run in a group → its group's number (1-based, in sweep order). */
    public static Map<SweepRun, Integer> numbers(List<List<SweepRun>> groups) {
        Map<SweepRun, Integer> m = new HashMap<>();
        for (int g = 0; g < groups.size(); g++) for (SweepRun r : groups.get(g)) m.put(r, g + 1);
        return m;
    }
}
