package disco.sweep;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a sweep will compute, before it runs: the CLIP images each model encodes over the executed steps of the
 * tree (each shared step once), next to what the runs would encode independently.
 */
public final class SweepCost {
    private SweepCost() {}

    /** Each executed step of the tree once (every node but the roots), with the first run through it. */
    static void forEachStep(PrefixTree tree, java.util.function.ObjIntConsumer<SweepRun> step) {
        List<PrefixTree.Node> stack = new ArrayList<>(tree.roots());
        while (!stack.isEmpty()) {
            PrefixTree.Node n = stack.remove(stack.size() - 1);
            stack.addAll(n.children);
            if (n.step < 0 || n.parent == null) continue;
            step.accept(n.through.get(0).run(), n.step);
        }
    }

    /** Model → CLIP images encoded over the tree's nodes (every node's step once). */
    public static Map<String, Long> clipImages(PrefixTree tree) {
        Map<String, Long> m = new LinkedHashMap<>();
        forEachStep(tree, (r, step) -> r.plan().clipImagesAt(step, r.settings().batchSize(), plms(r))
                .forEach((k, v) -> m.merge(k, v, Long::sum)));
        return m;
    }

    /** Model → CLIP images the tree's trajectories encode when each runs alone. */
    public static Map<String, Long> clipImagesIndependent(PrefixTree tree) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (PrefixTree.Trajectory t : tree.trajectories()) {
            SweepRun r = t.run();
            for (int j = t.from(); j < t.steps(); j++) {
                r.plan().clipImagesAt(j, r.settings().batchSize(), plms(r)).forEach((k, v) -> m.merge(k, v, Long::sum));
            }
        }
        return m;
    }

    static boolean plms(SweepRun r) {
        return "plms".equals(r.settings().diffusionSamplingMode());
    }

    /** {@code RN50 1200, ViT-L/14 3400} */
    public static String format(Map<String, Long> m) {
        StringBuilder sb = new StringBuilder();
        m.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
        return sb.length() == 0 ? "none" : sb.toString();
    }
}
