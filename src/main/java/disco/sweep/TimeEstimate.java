package disco.sweep;

import disco.plan.PlanStep;
import disco.plan.StepPlan;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The estimated wall time of a run or a sweep on this machine, from timed guided steps (a calibration run, or a
 * {@code disco bench step --json} result).
 *
 * <p>A step costs a fixed part — the UNet (or secondary model) forward and backward, the sampler — plus, per CLIP
 * model, its encoder's forward and backward per image it encodes, plus the cutouts and the gradient stage per image
 * (shared by all models). The fixed part depends on how the step is guided ({@code use_secondary_model} at that
 * step: {@link #SECONDARY} or {@link #UNET}); the images per model come from the plan ({@link StepPlan#clipImagesAt},
 * what {@link SweepCost} counts). A run's time is the sum over its executed steps and batches, a sweep's the sum over
 * the tree's nodes (every shared step once).
 */
public final class TimeEstimate {
    private TimeEstimate() {}

    /** Guidance kinds: the step's gradient through the UNet, or through DD's secondary model. */
    public static final String UNET = "unet", SECONDARY = "secondary";

    public static String kindOf(PlanStep p) {
        return p.useSecondaryModel() ? SECONDARY : UNET;
    }

    /** The guidance kinds a plan's steps use, in order of first use. */
    public static List<String> kinds(StepPlan plan) {
        List<String> out = new ArrayList<>();
        for (PlanStep p : plan.steps()) if (!out.contains(kindOf(p))) out.add(kindOf(p));
        return out;
    }

    /**
     * One guidance kind's costs, in milliseconds.
     *
     * @param fixedMs       per executed step, whatever it encodes
     * @param msPerImage    per CLIP image, by model (its encoder forward and backward, and its share of the cutouts and
     *                      the gradient stage)
     * @param stepsTimed    how many steps the figures are the mean of
     */
    public record Costs(double fixedMs, Map<String, Double> msPerImage, int stepsTimed) {
        public Costs {
            msPerImage = java.util.Collections.unmodifiableMap(new TreeMap<>(msPerImage));
        }
    }

    /**
     * Costs by guidance kind and where they come from.
     *
     * @param obtained how they were obtained, for the user: {@code calibrated now}, {@code cached from DATE},
     *                 {@code from bench file F}
     */
    public record Calibration(Map<String, Costs> byKind, String obtained) {
        public Calibration {
            byKind = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(byKind));
        }

        public Calibration obtained(String how) {
            return new Calibration(byKind, how);
        }
    }

    /** One timed step: its wall time, its stages' times (ms, by {@code disco bench step}'s stage names), its counts. */
    public record Sample(double totalMs, Map<String, Double> stageMs, Map<String, Long> counts) {}

    /** The counter of a model's CLIP images in a timed step ({@code disco bench step --json}'s {@code counts}). */
    public static String imagesCounter(String model) {
        return "clip_images." + model;
    }

    /**
     * The costs of one guidance kind from timed steps of it: per model the encoder's time over its images; the
     * cutouts and the gradient stage over all images, added to every model's per-image cost; the rest of the step
     * time is fixed. A model that encoded no image is left out (its cost is unknown).
     */
    public static Costs fromSamples(List<Sample> samples) {
        if (samples.isEmpty()) throw new IllegalArgumentException("no timed steps");
        Map<String, Double> clipMs = new TreeMap<>();
        Map<String, Long> images = new TreeMap<>();
        double shared = 0, fixed = 0;
        long allImages = 0;
        for (Sample s : samples) {
            double perStepVariable = 0;
            for (Map.Entry<String, Double> e : s.stageMs().entrySet()) {
                String k = e.getKey();
                if (k.startsWith("clip.") && (k.endsWith(".forward") || k.endsWith(".backward"))) {
                    String model = k.substring(5, k.lastIndexOf('.'));
                    clipMs.merge(model, e.getValue(), Double::sum);
                    perStepVariable += e.getValue();
                } else if (k.equals("cutouts") || k.equals("gradient")) {
                    shared += e.getValue();
                    perStepVariable += e.getValue();
                }
            }
            for (Map.Entry<String, Long> e : s.counts().entrySet()) {
                if (e.getKey().startsWith("clip_images.")) {
                    images.merge(e.getKey().substring("clip_images.".length()), e.getValue(), Long::sum);
                    allImages += e.getValue();
                }
            }
            fixed += Math.max(0, s.totalMs() - perStepVariable);
        }
        Map<String, Double> perImage = new TreeMap<>();
        double sharedPerImage = allImages == 0 ? 0 : shared / allImages;
        for (Map.Entry<String, Long> e : images.entrySet()) {
            if (e.getValue() == 0) continue;
            perImage.put(e.getKey(), clipMs.getOrDefault(e.getKey(), 0.0) / e.getValue() + sharedPerImage);
        }
        // the shared stages of steps without any image (no model active) belong to the fixed part
        if (allImages == 0) fixed += shared;
        return new Costs(fixed / samples.size(), perImage, samples.size());
    }

    /** The models of a plan that a calibration has no per-image cost for (empty: it can estimate the plan). */
    public static List<String> missing(Calibration c, StepPlan plan, int batchSize, boolean plms) {
        List<String> out = new ArrayList<>();
        for (String kind : kinds(plan)) {
            if (!c.byKind().containsKey(kind)) {
                out.add("(" + kind + "-guided steps)");
            }
        }
        for (int j = 0; j < plan.size(); j++) {
            Costs k = c.byKind().get(kindOf(plan.step(j)));
            if (k == null) continue;
            for (Map.Entry<String, Long> e : plan.clipImagesAt(j, batchSize, plms).entrySet()) {
                if (e.getValue() > 0 && !k.msPerImage().containsKey(e.getKey()) && !out.contains(e.getKey())) {
                    out.add(e.getKey());
                }
            }
        }
        return out;
    }

    /** Milliseconds of executed step {@code j} of {@code plan}. */
    public static double stepMs(Calibration c, StepPlan plan, int j, int batchSize, boolean plms) {
        Costs k = c.byKind().get(kindOf(plan.step(j)));
        if (k == null) throw new IllegalArgumentException("no timing of " + kindOf(plan.step(j)) + "-guided steps");
        double ms = k.fixedMs();
        for (Map.Entry<String, Long> e : plan.clipImagesAt(j, batchSize, plms).entrySet()) {
            if (e.getValue() == 0) continue;
            Double per = k.msPerImage().get(e.getKey());
            if (per == null) throw new IllegalArgumentException("no timing of CLIP model " + e.getKey());
            ms += per * e.getValue();
        }
        return ms;
    }

    /** Milliseconds of a whole run: its executed steps ({@code from} on) times its batches. */
    public static double runMs(Calibration c, StepPlan plan, int from, int steps, int batchSize, boolean plms, int batches) {
        double ms = 0;
        for (int j = from; j < steps; j++) ms += stepMs(c, plan, j, batchSize, plms);
        return ms * batches;
    }

    /**
     * Milliseconds of a sweep's tree: every node's step once, with the calibration of the node's run
     * ({@code calibrationOf}).
     */
    public static double treeMs(PrefixTree tree, java.util.function.Function<SweepRun, Calibration> calibrationOf) {
        double[] ms = {0};
        SweepCost.forEachStep(tree, (r, step) ->
                ms[0] += stepMs(calibrationOf.apply(r), r.plan(), step, r.settings().batchSize(), SweepCost.plms(r)));
        return ms[0];
    }

    /** {@code 2 h 05 min}, {@code 3 min 20 s}, {@code 12.4 s}, {@code 850 ms}. */
    public static String format(double ms) {
        if (ms < 1000) return String.format(java.util.Locale.ROOT, "%.0f ms", ms);
        double s = ms / 1000;
        if (s < 60) return String.format(java.util.Locale.ROOT, "%.1f s", s);
        long total = Math.round(s);
        if (total < 3600) return String.format(java.util.Locale.ROOT, "%d min %02d s", total / 60, total % 60);
        long min = Math.round(s / 60);
        return String.format(java.util.Locale.ROOT, "%d h %02d min", min / 60, min % 60);
    }
}
