package disco.sweep;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * The sweep as a tree of shared trajectory prefixes. A trajectory is one batch of one run; its root is its start
 * (x_T: the same trajectory fingerprint, seed and batch), and the node at depth {@code j + 1} is executed step
 * {@code j}. Two trajectories share a node iff they agree on everything that shapes the trajectory up to and
 * including that step: the fingerprint ({@link SweepRun#fingerprint()}), the batch, and the plan entries of steps
 * 0..j ({@link SweepRun#stepKey}). Each node is computed once; a node with several children is a fork.
 */
public final class PrefixTree {
    /**
     * One batch of one run, and how many of its steps to execute: steps {@code from .. steps-1} ({@code from > 0}:
     * continued from a checkpoint that holds the state after step {@code from - 1}, e.g. a finished preview).
     */
    public record Trajectory(SweepRun run, int batch, int steps, int from) {
        public Trajectory(SweepRun run, int batch, int steps) {
            this(run, batch, steps, 0);
        }

        public Trajectory {
            if (from < 0 || from > steps) throw new IllegalArgumentException("trajectory from step " + from + " of " + steps);
        }

        public String id() {
            return run.name() + "#" + batch;
        }

        /** The same trajectory to {@code steps} executed steps, continued from step {@code from}. */
        public Trajectory continued(int from) {
            return new Trajectory(run, batch, steps, from);
        }
    }

    /**
     * A step computed once for every trajectory passing through it. A root is the start of its trajectories
     * ({@code step == from - 1}: -1 for x_T, else the last step a checkpoint holds).
     */
    public static final class Node {
        public final int step;
        public final Node parent;
        final Map<Object, Node> byKey = new LinkedHashMap<>();
        public final List<Node> children = new ArrayList<>();
        /** Trajectories passing through this node, in sweep order. */
        public final List<Trajectory> through = new ArrayList<>();
        /** Trajectories whose last executed step is this node. */
        public final List<Trajectory> ending = new ArrayList<>();

        Node(int step, Node parent) {
            this.step = step;
            this.parent = parent;
        }

        /** Nodes in this subtree below this node (its executed steps). */
        public int stepsBelow() {
            int n = 0;
            for (Node c : children) n += 1 + c.stepsBelow();
            return n;
        }
    }

    private final List<Node> roots;
    private final List<Trajectory> trajectories;

    private PrefixTree(List<Node> roots, List<Trajectory> trajectories) {
        this.roots = roots;
        this.trajectories = trajectories;
    }

    /** Every batch of every run, each run to its full length. */
    public static PrefixTree of(List<SweepRun> runs) {
        return of(runs, SweepRun::stepsRun);
    }

    /** Every batch of every run, run {@code r} to {@code stepsOf(r)} executed steps (e.g. a --stop-at). */
    public static PrefixTree of(List<SweepRun> runs, ToIntFunction<SweepRun> stepsOf) {
        List<Trajectory> ts = new ArrayList<>();
        for (SweepRun r : runs) {
            int n = Math.min(r.stepsRun(), stepsOf.applyAsInt(r));
            for (int b = 0; b < r.settings().nBatches(); b++) ts.add(new Trajectory(r, b, n));
        }
        return ofTrajectories(ts);
    }

    /** A tree over the given trajectories (e.g. those a sweep has not finished yet). */
    public static PrefixTree ofTrajectories(List<Trajectory> ts) {
        // batches in order so that each run's log receives batch 0's steps before batch 1's
        List<Trajectory> sorted = new ArrayList<>(ts);
        sorted.sort(Comparator.comparingInt(Trajectory::batch));
        Map<Object, Node> rootsByKey = new LinkedHashMap<>();
        Map<SweepRun, String> fp = new HashMap<>();
        for (Trajectory t : sorted) {
            String f = fp.computeIfAbsent(t.run(), SweepRun::fingerprint);
            // trajectories continued from step `from` share their start when they agree on every step before it
            // (their checkpoints then hold the same state)
            List<Object> rootKey = new ArrayList<>(List.of(f, t.batch(), t.from()));
            for (int j = 0; j < t.from(); j++) rootKey.add(t.run().stepKey(j));
            Node n = rootsByKey.computeIfAbsent(rootKey, k -> new Node(t.from() - 1, null));
            n.through.add(t);
            for (int j = t.from(); j < t.steps(); j++) {
                Object key = t.run().stepKey(j);
                Node parent = n;
                n = parent.byKey.get(key);
                if (n == null) {
                    n = new Node(j, parent);
                    parent.byKey.put(key, n);
                    parent.children.add(n);
                }
                n.through.add(t);
            }
            n.ending.add(t);
        }
        return new PrefixTree(new ArrayList<>(rootsByKey.values()), List.copyOf(ts));
    }

    public List<Node> roots() {
        return roots;
    }

    public List<Trajectory> trajectories() {
        return trajectories;
    }

    /** Steps executed as a tree: one per node. */
    public long executedSteps() {
        long n = 0;
        for (Node r : roots) n += r.stepsBelow();
        return n;
    }

    /** Steps executed when every trajectory runs alone. */
    public long independentSteps() {
        long n = 0;
        for (Trajectory t : trajectories) n += t.steps() - t.from();
        return n;
    }

    /** Nodes with more than one child: where the state is copied. */
    public int forks() {
        int n = 0;
        List<Node> stack = new ArrayList<>(roots);
        while (!stack.isEmpty()) {
            Node x = stack.remove(stack.size() - 1);
            if (x.children.size() > 1) n++;
            stack.addAll(x.children);
        }
        return n;
    }

    /**
     * The prefix groups: the subtrees below each root's first step (trajectories that share nothing with other
     * groups), merged so that every batch of a run lands in the same group. In sweep order.
     */
    public List<List<Trajectory>> groups() {
        List<List<Trajectory>> units = new ArrayList<>();
        for (Node r : roots) {
            for (Node c : r.children) units.add(new ArrayList<>(c.through));
            List<Trajectory> zero = new ArrayList<>(r.ending);
            if (!zero.isEmpty()) units.add(zero);
        }
        // union units sharing a run
        int[] parent = new int[units.size()];
        for (int i = 0; i < parent.length; i++) parent[i] = i;
        Map<SweepRun, Integer> firstUnit = new HashMap<>();
        for (int u = 0; u < units.size(); u++) {
            for (Trajectory t : units.get(u)) {
                Integer o = firstUnit.putIfAbsent(t.run(), u);
                if (o != null) union(parent, o, u);
            }
        }
        Map<Integer, List<Trajectory>> merged = new LinkedHashMap<>();
        for (int u = 0; u < units.size(); u++) merged.computeIfAbsent(find(parent, u), k -> new ArrayList<>()).addAll(units.get(u));
        List<List<Trajectory>> out = new ArrayList<>(merged.values());
        for (List<Trajectory> g : out) g.sort(Comparator.comparingInt((Trajectory t) -> t.run().index()).thenComparingInt(Trajectory::batch));
        out.sort(Comparator.comparingInt(g -> g.get(0).run().index()));
        return out;
    }

    private static int find(int[] p, int i) {
        while (p[i] != i) i = p[i] = p[p[i]];
        return i;
    }

    private static void union(int[] p, int a, int b) {
        int ra = find(p, a), rb = find(p, b);
        if (ra != rb) p[Math.max(ra, rb)] = Math.min(ra, rb);
    }

    /**
     * Shard {@code i} of {@code n} (1-based): whole prefix groups, assigned greedily by executed steps (largest
     * first, ties by sweep order) to the least loaded shard (ties: the lowest). Deterministic: every shard computes
     * the same assignment from the same sweep.
     */
    public List<Trajectory> shard(int i, int n) {
        if (n < 1 || i < 1 || i > n) throw new IllegalArgumentException("shard " + i + "/" + n);
        List<List<Trajectory>> gs = groups();
        List<long[]> cost = new ArrayList<>();
        for (int g = 0; g < gs.size(); g++) cost.add(new long[] {ofTrajectories(gs.get(g)).executedSteps(), g});
        cost.sort((a, b) -> a[0] != b[0] ? Long.compare(b[0], a[0]) : Long.compare(a[1], b[1]));
        long[] load = new long[n];
        int[] owner = new int[gs.size()];
        for (long[] c : cost) {
            int best = 0;
            for (int s = 1; s < n; s++) if (load[s] < load[best]) best = s;
            load[best] += c[0];
            owner[(int) c[1]] = best;
        }
        List<Trajectory> out = new ArrayList<>();
        for (int g = 0; g < gs.size(); g++) if (owner[g] == i - 1) out.addAll(gs.get(g));
        return out;
    }
}
