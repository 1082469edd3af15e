package disco.sweep;

import disco.run.RunOutputs;
import disco.util.DiscoException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code --collect}'s completeness check: every trajectory of the sweep (to its full length, or to {@code --stop-at})
 * must be recorded as finished in one of the state files in the sweep directory ({@code sweep.json},
 * {@code sweep.shard-I-of-N.json}) and have its files there (final images, or the checkpoint of a preview). Those
 * that are not are named with the reason and, when the shard count is known ({@code DISCO_SHARDS}, else the shard
 * state files present), the shard that owns them, so that only those shards are run again.
 */
public final class SweepCollect {
    private static final Pattern SHARD_FILE = Pattern.compile("sweep\\.shard-(\\d+)-of-(\\d+)\\.json");

    /** A trajectory that is not complete: why, and its shard (null when the shard count is not known). */
    public record Incomplete(PrefixTree.Trajectory trajectory, String reason, Integer shard) {}

    /** The check's outcome: the incomplete trajectories and the shard count they were assigned under (or null). */
    public record Result(List<Incomplete> incomplete, Integer shards) {
        public boolean complete() {
            return incomplete.isEmpty();
        }

        /** The shards owning an incomplete trajectory, ascending. */
        public List<Integer> shardsToRerun() {
            TreeSet<Integer> s = new TreeSet<>();
            for (Incomplete i : incomplete) if (i.shard() != null) s.add(i.shard());
            return List.copyOf(s);
        }
    }

    private SweepCollect() {}

    /**
     * Checks {@code full} (the sweep's trajectories, each to the steps asked for) against the state files and the
     * run directories in {@code out}; {@code shardsHint} is the shard count the sweep was run with, when known.
     */
    public static Result check(Path out, List<SweepRun> runs, PrefixTree full, Integer shardsHint) {
        String digest = SweepDef.digest(runs);
        Map<String, SweepState.Entry> best = new HashMap<>();
        TreeSet<Integer> counts = new TreeSet<>();
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(out)) {
            try (var ds = Files.newDirectoryStream(out, "sweep*.json")) {
                for (Path f : ds) files.add(f);
            } catch (IOException e) {
                throw new DiscoException(disco.util.ExitCodes.IO_ERROR, out + ": cannot list the state files (" + e.getMessage() + ")", e);
            }
        }
        files.sort(null);
        for (Path f : files) {
            String name = f.getFileName().toString();
            Matcher m = SHARD_FILE.matcher(name);
            if (m.matches()) counts.add(Integer.parseInt(m.group(2)));
            else if (!name.equals("sweep.json")) continue;
            SweepState st = SweepState.open(f);
            if (st.digest() != null && !st.digest().equals(digest)) {
                throw DiscoException.badInput(f + ": digest: this directory holds another sweep (" + st.digest()
                        + ", this one is " + digest + "); use the sweep's own definition or another --out");
            }
            st.entries().forEach((id, e) -> best.merge(id, e, SweepCollect::better));
        }
        Integer shards = shardsHint != null ? shardsHint : counts.size() == 1 ? counts.first() : null;
        Map<PrefixTree.Trajectory, Integer> owner = new HashMap<>();
        if (shards != null && shards > 1) {
            for (int i = 1; i <= shards; i++) for (PrefixTree.Trajectory t : full.shard(i, shards)) owner.put(t, i);
        }
        List<Incomplete> incomplete = new ArrayList<>();
        for (PrefixTree.Trajectory t : full.trajectories()) {
            String why = reason(out, t, best.get(t.id()));
            if (why != null) incomplete.add(new Incomplete(t, why, owner.get(t)));
        }
        return new Result(List.copyOf(incomplete), shards);
    }

    /** Of two records of one trajectory: done over stopped (more steps first) over diverged. */
    private static SweepState.Entry better(SweepState.Entry a, SweepState.Entry b) {
        int ra = rank(a), rb = rank(b);
        if (ra != rb) return ra > rb ? a : b;
        return a.steps() >= b.steps() ? a : b;
    }

    private static int rank(SweepState.Entry e) {
        return switch (e.status()) {
            case "done" -> 3;
            case "stopped" -> 2;
            default -> 1;
        };
    }

    /** Why the trajectory is not complete, or null when it is. */
    static String reason(Path out, PrefixTree.Trajectory t, SweepState.Entry e) {
        SweepRun r = t.run();
        if (e == null) return "missing: no state file records it as finished (not run, or its shard stopped before it)";
        if (e.status().equals("diverged")) return "failed: the sample became non-finite at step " + e.steps();
        RunOutputs o = new RunOutputs(out.resolve(r.name()), r.name(), 0, r.settings().batchSize(), "");
        if (e.status().equals("done")) {
            for (int k = 0; k < r.settings().batchSize(); k++) {
                Path f = o.finalImage(t.batch(), k);
                if (!Files.isRegularFile(f)) return "missing: recorded as done, but " + out.relativize(f) + " is not there";
            }
            return null;
        }
        if (e.status().equals("stopped")) {
            if (e.steps() < t.steps()) return "incomplete: stopped after " + e.steps() + " of " + t.steps() + " steps";
            if (e.checkpoint() != null && !Files.isRegularFile(out.resolve(e.checkpoint()))) {
                return "missing: stopped at step " + e.steps() + ", but its checkpoint " + e.checkpoint() + " is not there";
            }
            return null;
        }
        return "failed: state '" + e.status() + "'";
    }

    /** The lines --collect prints for an incomplete sweep (without the leading "disco: "). */
    public static List<String> describe(Result res, int runs, String resubmit) {
        List<String> lines = new ArrayList<>();
        long names = res.incomplete().stream().map(i -> i.trajectory().run()).distinct().count();
        lines.add("sweep: --collect: " + names + " of " + runs + " runs are not complete:");
        for (Incomplete i : res.incomplete()) {
            PrefixTree.Trajectory t = i.trajectory();
            String who = t.run().name() + (t.run().settings().nBatches() > 1 ? " batch " + t.batch() : "");
            lines.add("  " + who + (i.shard() != null ? " (shard " + i.shard() + "/" + res.shards() + ")" : "") + ": " + i.reason());
        }
        List<Integer> again = res.shardsToRerun();
        if (!again.isEmpty()) {
            String list = String.join(",", again.stream().map(String::valueOf).toList());
            lines.add(resubmit != null
                    ? "sweep: re-submit only those shards: " + resubmit + " " + list
                    : "sweep: run shards " + list + " of " + res.shards() + " again (--shard I/" + res.shards()
                            + " with the same sweep and --out; each continues from its own state file)");
        } else {
            lines.add("sweep: run the sweep again with the same --out: it continues from its state file");
        }
        return lines;
    }
}
