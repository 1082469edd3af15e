package disco.settings;

import disco.util.PyLiteral;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import disco.util.DiscoException;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Reads settings from JSON (our own files, DD's {@code *_settings.txt}) or YAML (DiscoArt configs) and writes them
 * back as JSON. Reading happens in three steps so command-line overrides slot in between:
 * {@link #readTree} (file → map), {@link #normalize} (DD's and the blog's spellings → DiscoArt keys),
 * {@link #build} (map → validated {@link Settings}). {@link #load} does all three with optional overrides.
 * Every error is one line naming the file and key ({@link DiscoException#badInput}, exit code 2).
 */
public final class SettingsIO {
    private SettingsIO() {}

    /** Settings and the warnings met while reading them (unknown keys, rounded sizes, ignored frames). */
    public record Loaded(Settings settings, List<String> warnings) {
        public Loaded {
            warnings = List.copyOf(warnings);
        }
    }

    /** DiscoArt key names, in the order {@link #toMap} writes them. */
    public static final List<String> KEYS = List.of(
            "text_prompts", "clip_models", "clip_models_schedules", "steps", "skip_steps", "width_height", "eta",
            "cut_overview", "cut_innercut", "cut_ic_pow", "cut_icgray_p", "use_secondary_model", "cutn_batches",
            "clip_guidance_scale", "tv_scale", "range_scale", "sat_scale", "init_scale", "clamp_grad", "clamp_max",
            "init_image", "perlin_init", "perlin_mode", "diffusion_model", "diffusion_model_config",
            "diffusion_sampling_mode", "clip_denoised", "skip_augs", "seed", "n_batches", "batch_size",
            "use_horizontal_symmetry", "use_vertical_symmetry", "transformation_percent", "save_rate",
            "intermediate_saves", "batch_name");

    /** Keys of DD's saved settings and DiscoArt's configs that this engine reads but does not use. */
    static final Set<String> IGNORED = Set.of(
            // DD: animation, video, prompt fuzzing, derived values
            "image_prompts", "max_frames", "interp_spline", "frames_scale", "frames_skip_steps", "randomize_class",
            "fuzzy_prompt", "rand_mag", "key_frames", "angle", "zoom", "translation_x", "translation_y",
            "translation_z", "rotation_3d_x", "rotation_3d_y", "rotation_3d_z", "midas_depth_model", "midas_weight",
            "near_plane", "far_plane", "fov", "padding_mode", "sampling_mode", "extract_nth_frame", "turbo_mode",
            "turbo_steps", "turbo_preroll", "display_rate", "animation_mode", "cutn",
            // DiscoArt: presentation and service options
            "gif_fps", "gif_size_ratio", "on_misspelled_token", "cut_schedules_group", "name_docarray", "skip_event",
            "stop_event", "text_clip_on_cpu", "truncate_overlength_prompt", "image_output", "visualize_cuts",
            "clip_sequential_evaluation");
    /** Keys derived from others (DD saves them): read silently. */
    static final Set<String> DERIVED = Set.of("diffusion_steps", "timestep_respacing");

    /** Keys whose values are mappings, so the command line may set one entry: {@code KEY.ENTRY}. */
    public static final Set<String> MAPPING_KEYS = Set.of("clip_models_schedules", "clip_modules_schedules",
            "diffusion_model_config");

    /**
     * A settings key given on the command line ({@code --set KEY=...}, a sweep template): {@code KEY} or
     * {@code KEY.ENTRY} for a mapping-valued key ({@link #MAPPING_KEYS}). Returns {@code {top, entry}} (entry null
     * for a plain key; {@code clip_modules_schedules} spelled {@code clip_models_schedules}). A key this engine does
     * not know is bad input here, unlike in a settings file (where DD's and DiscoArt's extra keys are a warning):
     * typing it on the command line means wanting it to change something.
     */
    public static String[] commandLineKey(String origin, String key) {
        String top = key, entry = null;
        if (!isKey(key)) {
            int dot = key.indexOf('.');
            if (dot > 0 && isKey(key.substring(0, dot))) {
                top = key.substring(0, dot);
                entry = key.substring(dot + 1);
                if (!MAPPING_KEYS.contains(top)) {
                    throw DiscoException.badInput(origin + ": '" + ScheduleExpr.abbreviate(key) + "': " + top
                            + " is not a mapping; expected " + top + "=VALUE");
                }
                if (entry.isEmpty()) {
                    throw DiscoException.badInput(origin + ": '" + key + "': expected an entry after '" + top + ".'");
                }
            } else {
                String near = nearestKey(dot > 0 ? key.substring(0, dot) : key);
                throw DiscoException.badInput(origin + ": '" + ScheduleExpr.abbreviate(key) + "': unknown settings key"
                        + (near == null ? "" : " (did you mean " + near + "?)") + "; expected a key that `disco settings`"
                        + " prints, or " + String.join("/", new TreeSet<>(MAPPING_KEYS)) + ".ENTRY");
            }
        }
        if (top.equals("clip_modules_schedules")) top = "clip_models_schedules";
        return new String[] {top, entry};
    }

    private static boolean isKey(String k) {
        return KEYS.contains(k) || k.equals("clip_modules_schedules");
    }

    /** The settings key closest to {@code k} (at most a third of its letters different), or null. */
    private static String nearestKey(String k) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String c : KEYS) {
            int d = editDistance(k.toLowerCase(Locale.ROOT), c, Math.max(2, c.length() / 3));
            if (d < bestD) {
                bestD = d;
                best = c;
            }
        }
        return bestD <= Math.max(2, k.length() / 3) ? best : null;
    }

    private static int editDistance(String a, String b, int cap) {
        if (Math.abs(a.length() - b.length()) > cap || a.length() > 200) return Integer.MAX_VALUE;
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS.mappedFeature());

    /** Reads, normalises and validates a settings file; {@code overrides} may be null. */
    public static Loaded load(Path file, SettingsOverrides overrides) {
        List<String> warnings = new ArrayList<>();
        String label = file == null ? "settings" : file.toString();
        Map<String, Object> tree = file == null ? new LinkedHashMap<>() : readTree(file);
        tree = normalize(tree, label, warnings);
        Set<String> overridden = Set.of();
        if (overrides != null) {
            overridden = overrides.applyTo(tree, warnings);
        }
        return new Loaded(build(tree, label, overridden, warnings), warnings);
    }

    /**
     * A JSON settings file shipped on the class path (the demo's and the bench's), read and normalised like a
     * settings file; a missing resource is an internal error (the jar is broken), not bad input.
     */
    public static Map<String, Object> readResource(String resource, String label, List<String> warnings) {
        String text;
        try (InputStream in = SettingsIO.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("missing resource " + resource);
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return normalize(parse(text, label, false), label, warnings);
    }

    /** Parses JSON or YAML text as a settings map (DiscoArt or DD keys); a key given twice: the last one wins. */
    public static Map<String, Object> parse(String text, String label, boolean yaml) {
        return parse(text, label, yaml, false);
    }

    /**
     * Parses JSON or YAML text as a map; with {@code strict} a key given twice in one mapping is bad input (sweep
     * files: silently keeping one of two values there is a wrong sweep) rather than the last one winning (as
     * PyYAML and Python's json do for DD and DiscoArt files).
     */
    public static Map<String, Object> parse(String text, String label, boolean yaml, boolean strict) {
        Object root;
        if (yaml) {
            try {
                LoaderOptions lo = new LoaderOptions();
                lo.setAllowDuplicateKeys(!strict);
                root = new Yaml(new SafeConstructor(lo)).load(text);
            } catch (MarkedYAMLException e) {
                throw DiscoException.badInput(label + ": not valid YAML: " + oneLine(e.getProblem()) + " at line "
                        + (e.getProblemMark().getLine() + 1) + ", column " + (e.getProblemMark().getColumn() + 1), e);
            } catch (YAMLException e) {
                throw DiscoException.badInput(label + ": not valid YAML: " + oneLine(e.getMessage()), e);
            }
        } else {
            try {
                root = strict ? JSON.readerFor(Object.class)
                        .with(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION).readValue(text)
                        : JSON.readValue(text, Object.class);
            } catch (JsonProcessingException e) {
                String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column "
                        + e.getLocation().getColumnNr();
                throw DiscoException.badInput(label + ": not valid JSON: " + oneLine(e.getOriginalMessage()) + where, e);
            } catch (IOException e) {
                throw DiscoException.badInput(label + ": not valid JSON: " + oneLine(e.getMessage()), e);
            }
        }
        if (root == null) return new LinkedHashMap<>();
        if (!(root instanceof Map<?, ?> m)) {
            throw DiscoException.badInput(label + ": expected a mapping of settings keys at the top level, found "
                    + describe(root));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) out.put(String.valueOf(e.getKey()), e.getValue());
        return out;
    }

    /** Reads a settings file: YAML for .yml/.yaml, JSON otherwise (DD's settings.txt is JSON). */
    public static Map<String, Object> readTree(Path file) {
        return readTree(file, false);
    }

    /** {@link #readTree(Path)}; with {@code strict} a key given twice is bad input ({@link #parse(String, String, boolean, boolean)}). */
    public static Map<String, Object> readTree(Path file, boolean strict) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            String why = e instanceof java.nio.file.NoSuchFileException ? "no such file"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : Files.isDirectory(file) ? "a directory" : String.valueOf(e.getMessage());
            throw DiscoException.badInput(file + ": cannot read the settings file (" + why + ")", e);
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean yaml = name.endsWith(".yml") || name.endsWith(".yaml");
        if (!yaml && !name.endsWith(".json") && !name.endsWith(".txt") && !text.stripLeading().startsWith("{")) {
            yaml = true;
        }
        return parse(text, file.toString(), yaml, strict);
    }

    /**
     * Rewrites DD's and the blog's spellings to DiscoArt keys: {@code clip_modules_schedules}, {@code width} +
     * {@code height}, DD's per-model booleans ({@code ViTB32} ... {@code RN101}), frame-keyed {@code text_prompts}.
     */
    public static Map<String, Object> normalize(Map<String, Object> raw, String label, List<String> warnings) {
        Map<String, Object> m = new LinkedHashMap<>(raw);
        if (m.containsKey("clip_modules_schedules")) {
            Object v = m.remove("clip_modules_schedules");
            if (m.containsKey("clip_models_schedules") && m.get("clip_models_schedules") != null) {
                warnings.add(label + ": both clip_models_schedules and clip_modules_schedules are set; using"
                        + " clip_models_schedules");
            } else {
                m.put("clip_models_schedules", v);
            }
        }
        if (m.containsKey("width") || m.containsKey("height")) {
            Object w = m.remove("width");
            Object h = m.remove("height");
            if (m.containsKey("width_height")) {
                warnings.add(label + ": width/height ignored: width_height is set");
            } else {
                if (w == null || h == null) {
                    throw DiscoException.badInput(label + ": " + (w == null ? "width" : "height")
                            + ": expected both width and height");
                }
                m.put("width_height", List.of(w, h));
            }
        }
        // DD's per-model flags
        List<String> flagged = new ArrayList<>();
        boolean anyFlag = false;
        Map<String, String> flags = new java.util.LinkedHashMap<>(ClipModelName.OPENAI);
        ClipModelName.OPEN_CLIP.forEach((name, flag) -> {
            if (!flag.isEmpty()) flags.put(name, flag);
        });
        for (Map.Entry<String, String> e : flags.entrySet()) { // DD's order: OpenAI's, then open_clip's
            String flag = e.getValue();
            if (!m.containsKey(flag)) continue;
            anyFlag = true;
            Object v = m.remove(flag);
            if (!(v instanceof Boolean)) {
                throw DiscoException.badInput(label + ": " + flag + ": expected true or false, found " + describe(v));
            }
            if ((Boolean) v) flagged.add(e.getKey());
        }
        if (anyFlag) {
            if (m.containsKey("clip_models") && m.get("clip_models") != null) {
                warnings.add(label + ": DD's per-model flags (ViTB32 ... RN101) ignored: clip_models is set");
            } else {
                m.put("clip_models", flagged);
            }
        }
        // DD's frame-keyed prompts: {"0": [...], "100": [...]} -> the prompts of frame 0 (DD's bfill)
        Object tp = m.get("text_prompts");
        if (tp instanceof Map<?, ?> frames) {
            TreeMap<Integer, Object> byFrame = new TreeMap<>();
            for (Map.Entry<?, ?> e : frames.entrySet()) {
                int frame;
                try {
                    frame = Integer.parseInt(String.valueOf(e.getKey()).strip());
                } catch (NumberFormatException ex) {
                    throw DiscoException.badInput(label + ": text_prompts: expected frame numbers as keys, found '"
                            + e.getKey() + "'");
                }
                byFrame.put(frame, e.getValue());
            }
            if (byFrame.isEmpty()) {
                throw DiscoException.badInput(label + ": text_prompts: expected prompts, found an empty mapping");
            }
            if (byFrame.size() > 1) {
                warnings.add(label + ": text_prompts: using the prompts of frame " + byFrame.firstKey()
                        + " (this engine renders still images); frames " + byFrame.keySet().stream().skip(1).toList()
                        + " ignored");
            }
            m.put("text_prompts", byFrame.firstEntry().getValue());
        }
        Object ip = m.get("image_prompts");
        if (ip instanceof Map<?, ?> im && !im.isEmpty() || ip instanceof List<?> il && !il.isEmpty()) {
            warnings.add(label + ": image_prompts are not supported yet and are ignored");
        }
        return m;
    }

    /**
     * Builds validated settings from a normalised map; missing keys take {@link Settings#defaults()}. Unknown keys
     * become a warning; errors name {@code label} (or "command line" for keys in {@code overridden}) and the key.
     */
    public static Settings build(Map<String, Object> m, String label, Set<String> overridden, List<String> warnings) {
        Map<String, String> origins = new LinkedHashMap<>();
        for (String k : overridden) origins.put(k, "command line");
        return build(m, label, origins, warnings);
    }

    /**
     * {@link #build(Map, String, Set, List)} with the origin of each overridden key spelled out (key → the label
     * errors about it start with, e.g. "command line" or a sweep file's {@code set}).
     */
    public static Settings build(Map<String, Object> m, String label, Map<String, String> origins, List<String> warnings) {
        Settings d = Settings.defaults();
        List<String> unknown = new ArrayList<>();
        List<String> ignored = new ArrayList<>();
        for (String k : m.keySet()) {
            if (KEYS.contains(k) || DERIVED.contains(k) || k.startsWith("_")) continue;
            if (IGNORED.contains(k) || k.startsWith("video_init_")) {
                if (m.get(k) != null) ignored.add(k); // DiscoArt lists unused options as null: nothing to report
            } else {
                unknown.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            warnings.add(label + ": unknown keys ignored (misspelled?): " + String.join(", ", unknown));
        }
        if (!ignored.isEmpty()) {
            warnings.add(label + ": keys this engine does not use, ignored: " + String.join(", ", ignored));
        }
        Reader r = new Reader(m, label, origins);
        int[] wh = r.widthHeight(d, warnings);
        EnumMap<Scheduled, String> sched = new EnumMap<>(Scheduled.class);
        for (Scheduled s : Scheduled.values()) sched.put(s, r.schedule(s.key(), d.scheduleSource(s)));
        Map<String, String> modelSchedules = r.modelSchedules();
        Object saves = m.get("intermediate_saves");
        int savesCount = 0;
        List<Integer> saveSteps = List.of();
        if (saves instanceof List<?>) saveSteps = r.intList("intermediate_saves");
        else savesCount = r.integer("intermediate_saves", d.intermediateSaves());
        try {
            return new Settings(
                    r.prompts(d.textPrompts()),
                    r.clipModels(d.clipModels()),
                    modelSchedules,
                    sched,
                    r.integer("steps", d.steps()),
                    r.integer("skip_steps", d.skipSteps()),
                    wh[0], wh[1],
                    r.number("eta", d.eta()),
                    r.string("init_image", d.initImage(), true),
                    r.bool("perlin_init", d.perlinInit()),
                    r.string("perlin_mode", d.perlinMode(), false),
                    r.string("diffusion_model", d.diffusionModel(), false),
                    r.map("diffusion_model_config"),
                    r.string("diffusion_sampling_mode", d.diffusionSamplingMode(), false),
                    r.bool("clip_denoised", d.clipDenoised()),
                    r.bool("skip_augs", d.skipAugs()),
                    r.seed(),
                    r.integer("n_batches", d.nBatches()),
                    r.integer("batch_size", d.batchSize()),
                    r.bool("use_horizontal_symmetry", d.useHorizontalSymmetry()),
                    r.bool("use_vertical_symmetry", d.useVerticalSymmetry()),
                    r.numberList("transformation_percent", d.transformationPercent()),
                    r.integer("save_rate", d.saveRate()),
                    savesCount,
                    saveSteps,
                    r.string("batch_name", d.batchName(), true));
        } catch (IllegalArgumentException e) {
            String msg = e.getMessage();
            int colon = msg.indexOf(':');
            String key = colon > 0 ? msg.substring(0, colon) : "";
            throw DiscoException.badInput(r.where(key) + ": " + msg, e);
        }
    }

    /** The settings as a map with DiscoArt keys (what {@link #toJson} prints; loads back to equal settings). */
    public static Map<String, Object> toMap(Settings s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text_prompts", s.textPrompts());
        m.put("clip_models", s.clipModels());
        m.put("clip_models_schedules", s.clipModelsSchedules());
        m.put("steps", s.steps());
        m.put("skip_steps", s.skipSteps());
        m.put("width_height", List.of(s.width(), s.height()));
        m.put("eta", s.eta());
        for (Scheduled k : Scheduled.values()) {
            if (k == Scheduled.USE_SECONDARY_MODEL) continue;
            m.put(k.key(), scheduleValue(s.scheduleSource(k)));
            if (k == Scheduled.CUT_ICGRAY_P) {
                m.put(Scheduled.USE_SECONDARY_MODEL.key(), scheduleValue(s.scheduleSource(Scheduled.USE_SECONDARY_MODEL)));
            }
        }
        m.put("init_image", s.initImage());
        m.put("perlin_init", s.perlinInit());
        m.put("perlin_mode", s.perlinMode());
        m.put("diffusion_model", s.diffusionModel());
        m.put("diffusion_model_config", s.diffusionModelConfig().isEmpty() ? null : s.diffusionModelConfig());
        m.put("diffusion_sampling_mode", s.diffusionSamplingMode());
        m.put("clip_denoised", s.clipDenoised());
        m.put("skip_augs", s.skipAugs());
        m.put("seed", s.seed());
        m.put("n_batches", s.nBatches());
        m.put("batch_size", s.batchSize());
        m.put("use_horizontal_symmetry", s.useHorizontalSymmetry());
        m.put("use_vertical_symmetry", s.useVerticalSymmetry());
        m.put("transformation_percent", s.transformationPercent());
        m.put("save_rate", s.saveRate());
        m.put("intermediate_saves", s.intermediateSaveSteps().isEmpty() ? (Object) s.intermediateSaves()
                : s.intermediateSaveSteps());
        m.put("batch_name", s.batchName());
        return m;
    }

    public static String toJson(Settings s) {
        try {
            return JSON.writeValueAsString(toMap(s));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final Pattern INT_LITERAL = Pattern.compile("-?(0|[1-9]\\d{0,15})");

    /** A schedule source written as a JSON scalar when it is a plain literal that reads back to the same text. */
    static Object scheduleValue(String src) {
        if (src.equals("True")) return true;
        if (src.equals("False")) return false;
        if (INT_LITERAL.matcher(src).matches()) return Long.parseLong(src);
        try {
            double v = Double.parseDouble(src);
            if (ScheduleExpr.literal(v, Schedule.Kind.FLOAT).equals(src) && Double.isFinite(v)) return v;
        } catch (NumberFormatException ignored) {
            // not a number: keep the source text
        }
        return src;
    }

    /** A schedule value from a file (string, number, bool, or a list of 1000 entries) as schedule-language text. */
    public static String scheduleSource(Object v) {
        if (v instanceof String s) return s;
        if (v instanceof Boolean b) return PyLiteral.of(b);
        if (v instanceof Integer || v instanceof Long || v instanceof BigInteger || v instanceof Short) {
            return v.toString();
        }
        if (v instanceof Number n) return ScheduleExpr.literal(n.doubleValue(), Schedule.Kind.FLOAT);
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (Object e : l) {
                if (sb.length() > 1) sb.append(", ");
                if (e instanceof List<?> || e instanceof Map<?, ?> || e == null || e instanceof String) {
                    throw new IllegalArgumentException("expected a list of numbers or booleans, found an entry "
                            + describe(e));
                }
                sb.append(scheduleSource(e));
            }
            return sb.append(']').toString();
        }
        throw new IllegalArgumentException("expected a schedule (a string like \"[4]*400+[2]*600\", a number, or"
                + " true/false), found " + describe(v));
    }

    static String describe(Object v) {
        if (v == null) return "null";
        if (v instanceof String s) return "the string \"" + ScheduleExpr.abbreviate(s) + "\"";
        if (v instanceof Map<?, ?>) return "a mapping";
        if (v instanceof List<?>) return "a list";
        if (v instanceof Boolean) return "the boolean " + v;
        return "the " + (v instanceof Double || v instanceof Float ? "number " : "integer ") + v;
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").strip();
    }

    /** Typed access to the map with errors naming the origin and key. */
    private static final class Reader {
        final Map<String, Object> m;
        final String label;
        final Map<String, String> origins;

        Reader(Map<String, Object> m, String label, Map<String, String> origins) {
            this.m = m;
            this.label = label;
            this.origins = origins;
        }

        String where(String key) {
            return origins.getOrDefault(key, label);
        }

        DiscoException bad(String key, String expected, Object found) {
            return DiscoException.badInput(where(key) + ": " + key + ": expected " + expected + ", found "
                    + describe(found));
        }

        int integer(String key, int def) {
            Object v = m.get(key);
            if (v == null) return def;
            if (v instanceof Integer || v instanceof Long || v instanceof Short) {
                long l = ((Number) v).longValue();
                if (l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) return (int) l;
            } else if (v instanceof Double dd && dd == Math.rint(dd) && Math.abs(dd) <= Integer.MAX_VALUE) {
                return (int) (double) dd;
            }
            throw bad(key, "an integer", v);
        }

        double number(String key, double def) {
            Object v = m.get(key);
            if (v == null) return def;
            if (v instanceof Number n && !(v instanceof BigInteger)) return n.doubleValue();
            throw bad(key, "a number", v);
        }

        boolean bool(String key, boolean def) {
            Object v = m.get(key);
            if (v == null) return def;
            if (v instanceof Boolean b) return b;
            throw bad(key, "true or false", v);
        }

        String string(String key, String def, boolean nullable) {
            if (!m.containsKey(key)) return def;
            Object v = m.get(key);
            if (v == null) {
                if (nullable) return null;
                return def;
            }
            if (v instanceof String s) return nullable && s.isEmpty() ? null : s;
            if (key.equals("batch_name") && (v instanceof Number || v instanceof Boolean)) return String.valueOf(v);
            throw bad(key, "a string", v);
        }

        Long seed() {
            Object v = m.get("seed");
            if (v == null) return null;
            if (v instanceof Integer || v instanceof Long || v instanceof Short) return ((Number) v).longValue();
            if (v instanceof BigInteger bi && bi.bitLength() < 63) return bi.longValue();
            if (v instanceof Double dd && dd == Math.rint(dd) && Math.abs(dd) < 1e15) return (long) (double) dd;
            throw bad("seed", "an integer or null", v);
        }

        List<String> stringList(String key, List<String> def) {
            Object v = m.get(key);
            if (v == null) return def;
            if (v instanceof String s) return List.of(s);
            if (v instanceof List<?> l) {
                List<String> out = new ArrayList<>();
                for (Object e : l) {
                    if (!(e instanceof String s)) throw bad(key, "a list of strings", e);
                    out.add(s);
                }
                return out;
            }
            throw bad(key, "a list of strings", v);
        }

        /** clip_models: names, or DD's {@code (name, tag)} pairs as two-string lists ({@code [ViT-B-32, laion2b_e16]}). */
        List<String> clipModels(List<String> def) {
            Object v = m.get("clip_models");
            if (v instanceof List<?> l && l.stream().anyMatch(e -> e instanceof List<?>)) {
                List<Object> flat = new ArrayList<>();
                for (Object e : l) {
                    if (e instanceof List<?> pair && pair.size() == 2 && pair.get(0) instanceof String a
                            && pair.get(1) instanceof String b) {
                        flat.add(a + "::" + b);
                    } else if (e instanceof List<?>) {
                        throw bad("clip_models", "names or (name, tag) pairs", e);
                    } else {
                        flat.add(e);
                    }
                }
                m.put("clip_models", flat);
            }
            return stringList("clip_models", def);
        }

        List<String> prompts(List<String> def) {
            return stringList("text_prompts", def);
        }

        List<Integer> intList(String key) {
            Object v = m.get(key);
            List<Integer> out = new ArrayList<>();
            for (Object e : (List<?>) v) {
                if (!(e instanceof Integer i)) throw bad(key, "a list of integers", e);
                out.add(i);
            }
            return out;
        }

        List<Double> numberList(String key, List<Double> def) {
            Object v = m.get(key);
            if (v == null) return def;
            if (v instanceof Number n) return List.of(n.doubleValue());
            if (!(v instanceof List<?> l)) throw bad(key, "a list of numbers", v);
            List<Double> out = new ArrayList<>();
            for (Object e : l) {
                if (!(e instanceof Number n)) throw bad(key, "a list of numbers", e);
                out.add(n.doubleValue());
            }
            return out;
        }

        Map<String, Object> map(String key) {
            Object v = m.get(key);
            if (v == null) return Map.of();
            if (!(v instanceof Map<?, ?> mm)) throw bad(key, "a mapping or null", v);
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : mm.entrySet()) out.put(String.valueOf(e.getKey()), e.getValue());
            return out;
        }

        int[] widthHeight(Settings d, List<String> warnings) {
            Object v = m.get("width_height");
            if (v == null) return new int[] {d.width(), d.height()};
            if (!(v instanceof List<?> l) || l.size() != 2) throw bad("width_height", "[width, height]", v);
            int[] wh = new int[2];
            for (int i = 0; i < 2; i++) {
                Object e = l.get(i);
                if (e instanceof Integer || e instanceof Long || e instanceof BigInteger
                        || e instanceof Double dd && dd == Math.rint(dd)) {
                    double x = ((Number) e).doubleValue();
                    if (x > Settings.MAX_SIDE) {
                        throw DiscoException.badInput(where("width_height") + ": width_height: expected at most "
                                + Settings.MAX_SIDE + " pixels a side, found " + l.get(0) + "x" + l.get(1));
                    }
                    if (x >= 0) {
                        wh[i] = (int) x;
                        continue;
                    }
                }
                throw bad("width_height", "[width, height] in whole pixels", e);
            }
            int w = wh[0] / 64 * 64;
            int h = wh[1] / 64 * 64;
            if (w < 64 || h < 64) {
                throw DiscoException.badInput(where("width_height") + ": width_height: expected at least 64x64, found "
                        + wh[0] + "x" + wh[1]);
            }
            if (w != wh[0] || h != wh[1]) {
                warnings.add(where("width_height") + ": width_height: changing the output size from " + wh[0] + "x"
                        + wh[1] + " to " + w + "x" + h + ": dimensions must be multiples of 64");
            }
            return new int[] {w, h};
        }

        String schedule(String key, String def) {
            if (!m.containsKey(key) || m.get(key) == null) return def;
            try {
                return scheduleSource(m.get(key));
            } catch (IllegalArgumentException e) {
                throw DiscoException.badInput(where(key) + ": " + key + ": " + e.getMessage());
            }
        }

        Map<String, String> modelSchedules() {
            String key = "clip_models_schedules";
            Object v = m.get(key);
            if (v == null) return Map.of();
            if (!(v instanceof Map<?, ?> mm)) throw bad(key, "a mapping of CLIP model to schedule", v);
            Map<String, String> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : mm.entrySet()) {
                String model = String.valueOf(e.getKey());
                if (e.getValue() == null) continue;
                try {
                    out.put(model, scheduleSource(e.getValue()));
                } catch (IllegalArgumentException ex) {
                    throw DiscoException.badInput(where(key) + ": " + key + ": " + model + ": " + ex.getMessage());
                }
            }
            return out;
        }
    }
}
