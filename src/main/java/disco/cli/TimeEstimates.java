package disco.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.bench.StepBench;
import disco.run.Pipeline;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.sweep.CalibrationCache;
import disco.sweep.TimeEstimate;
import disco.util.DiscoException;
import disco.util.ExitCodes;
import org.bytedeco.pytorch.Device;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The time half of {@code --estimate} ({@code disco plan}, {@code disco sweep --dry-run}): the calibration of the
 * run's networks on this device — from the calibration cache ({@link CalibrationCache}), from timing
 * {@value #CALIBRATION_STEPS} guided steps now (the first a warm-up) through the pipeline the run builds, or from a
 * {@code disco bench step --json} file — and the estimate it gives ({@link TimeEstimate}).
 */
final class TimeEstimates {
    /** Guided steps a calibration runs per guidance kind; the first is a warm-up and is not counted. */
    static final int CALIBRATION_STEPS = 2;

    /** {@code --calibration} (a picocli mixin). */
    static final class Flags {
        @Option(names = "--calibration", paramLabel = "auto|cached|FILE", defaultValue = "auto",
                description = "with --estimate, where the time estimate's per-step costs come from: auto (default): the"
                        + " calibration cache, else time " + CALIBRATION_STEPS + " guided steps now (announced) and cache"
                        + " them; cached: the cache only, never compute; FILE: a `disco bench step --json` result")
        String calibration;
    }

    private final String mode;
    private final Path benchFile;
    private final java.util.function.Consumer<String> err;
    private CalibrationCache cache;
    private TimeEstimate.Calibration bench;

    /** @param err where the calibration's announcements and warnings go, a line each (stderr) */
    TimeEstimates(String flag, java.util.function.Consumer<String> err) {
        this.err = err;
        String f = flag == null ? "auto" : flag;
        if (f.equals("auto") || f.equals("cached")) {
            mode = f;
            benchFile = null;
        } else {
            mode = "file";
            benchFile = Path.of(f);
            if (!Files.isRegularFile(benchFile)) {
                throw DiscoException.badInput("--calibration: " + f + ": expected auto, cached or a `disco bench step --json` file");
            }
        }
    }

    /** The cost key of a run's pipeline: everything that changes what its steps cost on this machine. */
    static Map<String, Object> key(Settings s, Pipeline p) {
        Map<String, Object> m = new TreeMap<>();
        m.put("format", 1);
        m.put("device", deviceId(p.device()));
        m.put("diffusion_model", s.diffusionModel());
        m.put("diffusion_model_config", new TreeMap<>(s.diffusionModelConfig()));
        m.put("clip_models", s.clipModels().stream().sorted().toList());
        m.put("lpips", p.networks().lpips() != null);
        m.put("width", s.width());
        m.put("height", s.height());
        m.put("batch_size", s.batchSize());
        m.put("diffusion_sampling_mode", s.diffusionSamplingMode());
        m.put("fuzzy_prompt", s.fuzzyPrompt());
        m.put("options", new TreeMap<>(p.describe()));
        return m;
    }

    /** This machine's device as the cache tells devices apart: the CPU model and cores, or the GPU's memory. */
    static String deviceId(Device d) {
        if (d.is_cuda()) {
            long[] info = disco.run.MemoryEstimate.cudaMemInfo();
            return info == null ? "cuda" : "cuda: a GPU with " + info[1] + " bytes";
        }
        String model = "";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    model = line.substring(line.indexOf(':') + 1).strip();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            model = System.getProperty("os.arch");
        }
        return "cpu: " + model + ", " + Runtime.getRuntime().availableProcessors() + " cores";
    }

    /**
     * The calibration for runs with {@code s}'s networks and pipeline {@code p}, for the guidance kinds they use;
     * null (with a line on stderr saying why) when there is none: {@code cached} and nothing cached, or a bench file
     * that lacks what the plan needs. {@code build} makes a pipeline for other settings over the same networks.
     */
    TimeEstimate.Calibration calibration(Settings s, Pipeline p, List<String> kinds, Function<Settings, Pipeline> build) {
        if (mode.equals("file")) {
            if (bench == null) bench = fromBenchFile(benchFile, p.device());
            return bench;
        }
        Map<String, Object> key = key(s, p);
        if (cache == null) cache = CalibrationCache.read(CalibrationCache.defaultPath(), w -> err.accept("disco: warning: " + w));
        TimeEstimate.Calibration c = cache.calibration(key, kinds);
        if (c != null) return c;
        if (mode.equals("cached")) {
            err.accept("disco: estimate: no calibration cached for " + summary(s) + " on " + key.get("device") + " in "
                    + cache.file() + " (--calibration auto times " + CALIBRATION_STEPS + " guided steps and caches them)");
            return null;
        }
        Map<String, TimeEstimate.Costs> byKind = new LinkedHashMap<>();
        for (String kind : kinds) {
            CalibrationCache.Entry e = cache.get(key, kind);
            if (e != null) {
                byKind.put(kind, e.costs());
                continue;
            }
            err.accept("disco: estimate: calibrating " + summary(s) + " (" + kind + "-guided steps) on " + key.get("device")
                    + ": timing " + CALIBRATION_STEPS + " guided steps now, the first a warm-up (--calibration cached"
                    + " never computes); the result is cached in " + cache.file());
            TimeEstimate.Costs costs = calibrate(s, kind, build);
            cache.put(key, kind, Instant.now(), costs);
            byKind.put(kind, costs);
        }
        try {
            cache.write();
        } catch (IOException e) {
            err.accept("disco: warning: " + cache.file() + ": cannot write the calibration cache (" + e.getMessage() + ")");
        }
        return new TimeEstimate.Calibration(byKind, "calibrated now, cached in " + cache.file());
    }

    private static String summary(Settings s) {
        return s.diffusionModel() + " + " + String.join(", ", s.clipModels()) + " at " + s.width() + "x" + s.height()
                + (s.batchSize() > 1 ? " x" + s.batchSize() : "");
    }

    /**
     * Times {@value #CALIBRATION_STEPS} steps of {@code s} with every CLIP model on at every step and the guidance
     * kind fixed ({@code use_secondary_model}), through the pipeline {@code build} makes for it.
     */
    static TimeEstimate.Costs calibrate(Settings s, String kind, Function<Settings, Pipeline> build) {
        Map<String, Object> m = SettingsIO.toMap(s);
        m.put("clip_models_schedules", Map.of()); // every model at every step: each model's cost per image is seen
        m.put("use_secondary_model", kind.equals(TimeEstimate.SECONDARY));
        List<String> warnings = new ArrayList<>();
        Settings cs = SettingsIO.build(m, "calibration settings", java.util.Set.of(), warnings);
        try (Pipeline p = build.apply(cs)) {
            int steps = Math.min(CALIBRATION_STEPS, Math.max(1, p.plan().size()));
            List<StepBench.StepRecord> recs = StepBench.timeSteps(p, s.seed() == null ? 0 : s.seed(), s.batchSize(),
                    s.width(), s.height(), steps);
            if (recs.size() > 1) recs = recs.subList(1, recs.size());
            List<TimeEstimate.Sample> samples = new ArrayList<>();
            for (StepBench.StepRecord r : recs) {
                Map<String, Double> ms = new LinkedHashMap<>();
                r.nanos().forEach((k, v) -> ms.put(k, v / 1e6));
                samples.add(new TimeEstimate.Sample(r.totalNanos() / 1e6, ms, r.counts()));
            }
            return TimeEstimate.fromSamples(samples);
        }
    }

    /**
     * The calibration in a {@code disco bench step --json} result: its fast mode's steps (the first left out when
     * there are more), by guidance kind (a step that ran the secondary model is secondary-guided).
     */
    static TimeEstimate.Calibration fromBenchFile(Path f, Device device) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(f.toFile());
        } catch (IOException e) {
            throw DiscoException.badInput(f + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        JsonNode steps = root == null ? null : root.path("modes").path("fast").path("steps");
        if (steps == null || !steps.isArray() || steps.isEmpty()) {
            throw DiscoException.badInput(f + ": modes.fast.steps: expected the steps of a `disco bench step --json` result");
        }
        Map<String, List<TimeEstimate.Sample>> byKind = new LinkedHashMap<>();
        for (int i = steps.size() > 1 ? 1 : 0; i < steps.size(); i++) {
            JsonNode st = steps.get(i);
            String where = f + ": modes.fast.steps[" + i + "]";
            if (!st.path("total_ms").isNumber() || !st.path("stages_ms").isObject() || !st.path("counts").isObject()) {
                throw DiscoException.badInput(where + ": expected total_ms, stages_ms and counts");
            }
            Map<String, Double> ms = new LinkedHashMap<>();
            st.path("stages_ms").fields().forEachRemaining(e -> ms.put(e.getKey(), e.getValue().asDouble()));
            Map<String, Long> counts = new LinkedHashMap<>();
            st.path("counts").fields().forEachRemaining(e -> counts.put(e.getKey(), e.getValue().asLong()));
            if (counts.keySet().stream().noneMatch(k -> k.startsWith("clip_images."))) {
                // an older bench file: the total is one model's only when one model was timed
                List<String> models = ms.keySet().stream().filter(k -> k.startsWith("clip.") && k.endsWith(".forward"))
                        .map(k -> k.substring(5, k.length() - ".forward".length())).toList();
                if (models.size() > 1) {
                    throw DiscoException.badInput(where + ": counts: no CLIP images per model (clip_images.<model>);"
                            + " write the file again with this disco's `bench step --json`");
                }
                if (models.size() == 1) counts.put(TimeEstimate.imagesCounter(models.get(0)), counts.getOrDefault("clip_images", 0L));
            }
            String kind = counts.getOrDefault("secondary_forwards", 0L) > 0 ? TimeEstimate.SECONDARY : TimeEstimate.UNET;
            byKind.computeIfAbsent(kind, k -> new ArrayList<>()).add(new TimeEstimate.Sample(st.path("total_ms").asDouble(), ms, counts));
        }
        Map<String, TimeEstimate.Costs> costs = new LinkedHashMap<>();
        byKind.forEach((k, v) -> costs.put(k, TimeEstimate.fromSamples(v)));
        String dev = root.path("device").asText("?");
        String here = device.is_cuda() ? "cuda" : "cpu";
        String how = "from bench file " + f + " (" + root.path("source").asText("?") + ", device " + dev + ")";
        if (!dev.equals(here)) how += "; note: it was measured on " + dev + ", this estimate is for " + here;
        return new TimeEstimate.Calibration(costs, how);
    }

    /**
     * The line a command prints: the time and how it was obtained, or why there is none ({@code missing}: the
     * models or kinds the calibration lacks).
     */
    static String line(double ms, String what, List<String> how) {
        return "# time: about " + TimeEstimate.format(ms) + " for " + what + " on this machine (" + String.join("; ", how) + ")";
    }

    /**
     * The time line for a calibration that lacks some of the plan's models or guidance kinds: a bench file that does
     * not fit is bad input (one line); a calibration made here that saw no image of a model says so.
     */
    String lacking(TimeEstimate.Calibration c, List<String> missing) {
        String why = "the calibration (" + c.obtained() + ") has no timing of " + String.join(", ", missing)
                + ", which the plan uses";
        if (mode.equals("file")) throw DiscoException.badInput("--calibration: " + why);
        return "# time: not estimated: " + why;
    }

    /**
     * A run's time line, or why there is none: {@code c} null (nothing cached) says how to get one.
     */
    String runLine(TimeEstimate.Calibration c, disco.plan.StepPlan plan, Settings s) {
        if (c == null) return "# time: not estimated (no calibration cached; --calibration auto makes one)";
        boolean plms = "plms".equals(s.diffusionSamplingMode());
        List<String> missing = TimeEstimate.missing(c, plan, s.batchSize(), plms);
        if (!missing.isEmpty()) return lacking(c, missing);
        double ms = TimeEstimate.runMs(c, plan, 0, plan.size(), s.batchSize(), plms, s.nBatches());
        return line(ms, (long) plan.size() * s.nBatches() + " executed steps (" + plan.size() + " per batch x "
                + s.nBatches() + " batch" + (s.nBatches() == 1 ? "" : "es") + ")", List.of(c.obtained()));
    }
}
