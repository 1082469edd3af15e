package disco.settings;

import disco.util.DiscoException;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Command-line values that replace a settings file's: {@code --prompt}, {@code --clip-model},
 * {@code --schedule MODEL=EXPR}, {@code --steps}, {@code --skip-steps}, {@code --seed}, {@code --size WxH}, and the
 * generic {@code --set key=value}. Null / empty fields change nothing. Applied to the normalised settings map
 * before validation ({@link SettingsIO#load}), so a flag is checked exactly like a file value.
 *
 * @param prompts    replaces text_prompts when non-empty
 * @param clipModels replaces clip_models when non-empty
 * @param schedules  MODEL → schedule, merged into clip_models_schedules (replacing that model's entry)
 * @param set        key → value text: schedulable keys take the text as a schedule; other keys parse it as a YAML
 *                   scalar or flow value ({@code 100}, {@code true}, {@code [1280, 768]}, {@code null})
 */
public record SettingsOverrides(List<String> prompts, List<String> clipModels, Map<String, String> schedules,
                                Integer steps, Integer skipSteps, Long seed, int[] size, Map<String, String> set) {
    public SettingsOverrides {
        prompts = prompts == null ? List.of() : List.copyOf(prompts);
        clipModels = clipModels == null ? List.of() : List.copyOf(clipModels);
        schedules = schedules == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(schedules));
        set = set == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(set));
        if (size != null) {
            if (size.length != 2) throw new IllegalArgumentException("size: expected WIDTHxHEIGHT");
            size = size.clone();
        }
    }

    public static SettingsOverrides none() {
        return new SettingsOverrides(null, null, null, null, null, null, null, null);
    }

    /** A command-line value as YAML reads it ({@code 100}, {@code true}, {@code [1280, 768]}); the text itself if not YAML. */
    static Object yaml(String text) {
        try {
            return new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
        } catch (YAMLException ex) {
            return text;
        }
    }

    /** Parses {@code --size 1280x768}. */
    public static int[] parseSize(String text) {
        String[] parts = text.strip().toLowerCase(java.util.Locale.ROOT).split("x");
        if (parts.length != 2) throw DiscoException.badInput("--size: expected WIDTHxHEIGHT, found '" + ScheduleExpr.abbreviate(text) + "'");
        try {
            long w = Long.parseLong(parts[0].strip()), h = Long.parseLong(parts[1].strip());
            if (w > Settings.MAX_SIDE || h > Settings.MAX_SIDE) {
                throw DiscoException.badInput("--size: expected at most " + Settings.MAX_SIDE + " pixels a side, found '"
                        + ScheduleExpr.abbreviate(text) + "'");
            }
            return new int[] {(int) w, (int) h};
        } catch (NumberFormatException e) {
            throw DiscoException.badInput("--size: expected WIDTHxHEIGHT, found '" + ScheduleExpr.abbreviate(text) + "'");
        }
    }

    /** Splits {@code key=value} (the first '='); a missing '=' is bad input naming the flag. */
    public static Map.Entry<String, String> splitAssignment(String flag, String text) {
        int eq = text.indexOf('=');
        if (eq <= 0) throw DiscoException.badInput(flag + ": expected KEY=VALUE, found '" + ScheduleExpr.abbreviate(text) + "'");
        return Map.entry(text.substring(0, eq).strip(), text.substring(eq + 1).strip());
    }

    /**
     * Writes these values into a normalised settings map; returns the keys it set. When the CLIP models are
     * replaced, the file's schedules for models no longer listed are dropped (with a warning).
     */
    public Set<String> applyTo(Map<String, Object> m, List<String> warnings) {
        Set<String> keys = new LinkedHashSet<>();
        // clip_models_schedules.MODEL=EXPR is --schedule MODEL=EXPR (merged below, --schedule last)
        Map<String, String> modelSchedules = new LinkedHashMap<>();
        Map<String, Object> modelFlags = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : set.entrySet()) {
            String[] k = SettingsIO.commandLineKey("--set", e.getKey());
            String key = k[0];
            if (SettingsIO.isModelFlag(key)) {
                modelFlags.put(key, yaml(e.getValue())); // applied after --clip-model, below
                continue;
            }
            if (k[1] != null && key.equals("clip_models_schedules")) {
                modelSchedules.put(k[1], e.getValue());
                continue;
            }
            Object value = Scheduled.byKey(key) != null && k[1] == null ? e.getValue() : yaml(e.getValue());
            if (k[1] != null) {
                Map<String, Object> mm = new LinkedHashMap<>();
                if (m.get(key) instanceof Map<?, ?> old) old.forEach((a, b) -> mm.put(String.valueOf(a), b));
                mm.put(k[1], value);
                value = mm;
            }
            m.put(key, value);
            keys.add(key);
        }
        modelSchedules.putAll(schedules);
        if (!prompts.isEmpty()) {
            m.put("text_prompts", new ArrayList<>(prompts));
            keys.add("text_prompts");
        }
        if (!clipModels.isEmpty()) {
            m.put("clip_models", new ArrayList<>(clipModels));
            keys.add("clip_models");
            if (m.get("clip_models_schedules") instanceof Map<?, ?> old) {
                Set<String> listed = new java.util.HashSet<>(clipModels);
                for (String c : clipModels) {
                    if (ClipModelName.isValid(c)) listed.add(ClipModelName.resolve(c).canonical());
                }
                Map<String, Object> kept = new LinkedHashMap<>();
                List<String> dropped = new ArrayList<>();
                for (Map.Entry<?, ?> e : old.entrySet()) {
                    String k = String.valueOf(e.getKey());
                    boolean on = listed.contains(k)
                            || ClipModelName.isValid(k) && listed.contains(ClipModelName.resolve(k).canonical());
                    if (on) kept.put(k, e.getValue());
                    else dropped.add(k);
                }
                if (!dropped.isEmpty()) {
                    warnings.add("command line: clip_models: schedules of models no longer listed dropped: "
                            + String.join(", ", dropped));
                }
                m.put("clip_models_schedules", kept);
            }
        }
        // DD's model flags (--set ViTL14=true) add or remove one model of the list in force
        for (Map.Entry<String, Object> e : modelFlags.entrySet()) {
            SettingsIO.applyModelFlag(m, e.getKey(), e.getValue());
            keys.add("clip_models");
        }
        if (!modelSchedules.isEmpty()) {
            Map<String, Object> merged = new LinkedHashMap<>();
            Object old = m.get("clip_models_schedules");
            if (old instanceof Map<?, ?> om) {
                for (Map.Entry<?, ?> e : om.entrySet()) merged.put(String.valueOf(e.getKey()), e.getValue());
            }
            for (Map.Entry<String, String> e : modelSchedules.entrySet()) {
                // replace any entry naming the same model in another spelling
                if (ClipModelName.isValid(e.getKey())) {
                    String c = ClipModelName.resolve(e.getKey()).canonical();
                    merged.keySet().removeIf(k -> ClipModelName.isValid(k)
                            && ClipModelName.resolve(k).canonical().equals(c));
                }
                merged.put(e.getKey(), e.getValue());
            }
            m.put("clip_models_schedules", merged);
            keys.add("clip_models_schedules");
        }
        if (steps != null) {
            m.put("steps", steps);
            keys.add("steps");
        }
        if (skipSteps != null) {
            m.put("skip_steps", skipSteps);
            keys.add("skip_steps");
        }
        if (seed != null) {
            m.put("seed", seed);
            keys.add("seed");
        }
        if (size != null) {
            m.put("width_height", List.of(size[0], size[1]));
            keys.add("width_height");
        }
        return keys;
    }
}
