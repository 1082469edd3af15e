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
            "text_prompts", "image_prompts", "clip_models", "clip_models_schedules", "steps", "skip_steps", "width_height", "eta",
            "cut_overview", "cut_innercut", "cut_ic_pow", "cut_icgray_p", "use_secondary_model", "cutn_batches",
            "clip_guidance_scale", "tv_scale", "range_scale", "sat_scale", "init_scale", "clamp_grad", "clamp_max",
            "init_image", "perlin_init", "perlin_mode", "diffusion_model", "diffusion_model_config",
            "diffusion_sampling_mode", "clip_denoised", "skip_augs", "seed", "n_batches", "batch_size",
            "use_horizontal_symmetry", "use_vertical_symmetry", "transformation_percent", "save_rate",
            "intermediate_saves", "batch_name", "fuzzy_prompt", "rand_mag", "gif_fps", "gif_size_ratio",
            // DD's own keys that mean something here (DD's spelling)
            "useCPU", "check_model_SHA", "intermediates_in_subfolder", "display_rate", "use_checkpoint");

    /**
     * Keys read but not written back: DiscoArt's {@code cut_schedules_group} is expanded into the keys it sets
     * ({@link CutPresets}), which {@link #toMap} writes.
     */
    public static final Set<String> PRESET_KEYS = Set.of("cut_schedules_group");

    /**
     * Every key DD's {@code save_settings()} writes into {@code <batch_name>(<n>)_settings.txt}, over its versions
     * v5.2 to v5.7 (alembics/disco-diffusion {@code disco.py} history to 37eb39b). Each is read: a key of
     * {@link #KEYS}, rewritten by {@link #normalize} (width/height, the model flags, diffusion_steps), or listed in
     * {@link #NOT_USED} (a warning names it).
     */
    public static final List<String> DD_SAVED_KEYS = List.of(
            "text_prompts", "image_prompts", "clip_guidance_scale", "tv_scale", "range_scale", "sat_scale",
            "cutn_batches", "max_frames", "interp_spline", "init_image", "init_scale", "skip_steps", "frames_scale",
            "frames_skip_steps", "perlin_init", "perlin_mode", "skip_augs", "randomize_class", "clip_denoised",
            "clamp_grad", "clamp_max", "seed", "fuzzy_prompt", "rand_mag", "eta", "width", "height", "diffusion_model",
            "use_secondary_model", "steps", "diffusion_steps", "diffusion_sampling_mode", "ViTB32", "ViTB16", "ViTL14",
            "ViTL14_336px", "RN101", "RN50", "RN50x4", "RN50x16", "RN50x64", "ViTB32_laion2b_e16",
            "ViTB32_laion400m_e31", "ViTB32_laion400m_32", "ViTB32quickgelu_laion400m_e31",
            "ViTB32quickgelu_laion400m_e32", "ViTB16_laion400m_e31", "ViTB16_laion400m_e32", "RN50_yffcc15m",
            "RN50_cc12m", "RN50_quickgelu_yfcc15m", "RN50_quickgelu_cc12m", "RN101_yfcc15m", "RN101_quickgelu_yfcc15m",
            "cut_overview", "cut_innercut", "cut_ic_pow", "cut_icgray_p", "key_frames", "angle", "zoom",
            "translation_x", "translation_y", "translation_z", "rotation_3d_x", "rotation_3d_y", "rotation_3d_z",
            "midas_depth_model", "midas_weight", "near_plane", "far_plane", "fov", "padding_mode", "sampling_mode",
            "video_init_path", "extract_nth_frame", "video_init_seed_continuity", "turbo_mode", "turbo_steps",
            "turbo_preroll", "turbo_frame_blend", "use_horizontal_symmetry", "use_vertical_symmetry",
            "transformation_percent", "video_init_steps", "video_init_clip_guidance_scale", "video_init_tv_scale",
            "video_init_range_scale", "video_init_sat_scale", "video_init_cutn_batches", "video_init_skip_steps",
            "video_init_frames_scale", "video_init_frames_skip_steps", "video_init_flow_warp", "video_init_flow_blend",
            "video_init_check_consistency", "video_init_blend_mode");

    /**
     * DD's notebook settings that {@code save_settings()} does not write (its {@code args} and parameters), as a DD
     * user may put them in a settings file. Each is a key of {@link #KEYS}, rewritten by {@link #normalize}
     * ({@code set_seed}, {@code width_height}), or listed in {@link #NOT_USED}.
     */
    public static final List<String> DD_OTHER_KEYS = List.of(
            "batch_name", "n_batches", "batch_size", "width_height", "intermediate_saves", "intermediates_in_subfolder",
            "display_rate", "set_seed", "useCPU", "check_model_SHA", "use_checkpoint", "animation_mode", "batchNum",
            "steps_per_checkpoint", "side_x", "side_y", "timestep_respacing", "start_frame", "calc_frames_skip_steps",
            "skip_step_ratio", "prompts_series", "image_prompts_series", "angle_series", "zoom_series",
            "translation_x_series", "translation_y_series", "translation_z_series", "rotation_3d_x_series",
            "rotation_3d_y_series", "rotation_3d_z_series", "cutn");

    /** The warning's words for a key this engine reads but does not use. */
    public static final String NOT_USED_TEXT = "not used by this engine";

    /**
     * Keys of DD's and DiscoArt's settings that this engine reads but does not use, each with the reason (README's
     * settings reference lists them). A file naming one with a non-null value gets one warning listing them
     * ({@value #NOT_USED_TEXT}); on the command line ({@code --set}) naming one is an error.
     */
    public static final Map<String, String> NOT_USED = notUsed();

    private static Map<String, String> notUsed() {
        Map<String, String> m = new TreeMap<>();
        String anim = "DD's animation and video settings (this engine renders still images)";
        for (String k : List.of("max_frames", "interp_spline", "frames_scale", "frames_skip_steps", "key_frames", "angle",
                "zoom", "translation_x", "translation_y", "translation_z", "rotation_3d_x", "rotation_3d_y",
                "rotation_3d_z", "midas_depth_model", "midas_weight", "near_plane", "far_plane", "fov", "padding_mode",
                "sampling_mode", "extract_nth_frame", "turbo_mode", "turbo_steps", "turbo_preroll", "turbo_frame_blend",
                "animation_mode", "start_frame", "calc_frames_skip_steps", "skip_step_ratio", "prompts_series",
                "image_prompts_series", "angle_series", "zoom_series", "translation_x_series", "translation_y_series",
                "translation_z_series", "rotation_3d_x_series", "rotation_3d_y_series", "rotation_3d_z_series",
                "video_init_path", "video_init_seed_continuity", "video_init_steps", "video_init_clip_guidance_scale",
                "video_init_tv_scale", "video_init_range_scale", "video_init_sat_scale", "video_init_cutn_batches",
                "video_init_skip_steps", "video_init_frames_scale", "video_init_frames_skip_steps",
                "video_init_flow_warp", "video_init_flow_blend", "video_init_check_consistency",
                "video_init_blend_mode")) {
            m.put(k, anim);
        }
        m.put("randomize_class", "DD passes it to guided-diffusion, which redraws a class label only for"
                + " class-conditional models; DD's diffusion models take none (class_cond: false), so it changes nothing");
        m.put("cutn", "DD computes it and does not use it (its saved settings comment it out)");
        m.put("batchNum", "the batch number is counted from the files in the run directory, as DD counts it");
        m.put("steps_per_checkpoint", "derived from intermediate_saves, steps and skip_steps");
        m.put("side_x", "derived from width_height");
        m.put("side_y", "derived from width_height");
        String discoart = "a DiscoArt presentation or service option";
        for (String k : List.of("on_misspelled_token",
                "name_docarray", "skip_event", "stop_event", "text_clip_on_cpu", "truncate_overlength_prompt",
                "image_output", "visualize_cuts", "clip_sequential_evaluation")) {
            m.put(k, discoart);
        }
        return java.util.Collections.unmodifiableMap(m);
    }

    /** Keys derived from others (DD saves them): checked against the value they derive from (a warning when they differ). */
    static final Set<String> DERIVED = Set.of("diffusion_steps", "timestep_respacing");

    /** DD's per-model flags, model name to flag, in DD's order: OpenAI's models, then open_clip's. */
    public static Map<String, String> modelFlags() {
        Map<String, String> flags = new java.util.LinkedHashMap<>(ClipModelName.OPENAI);
        ClipModelName.OPEN_CLIP.forEach((name, flag) -> {
            if (!flag.isEmpty()) flags.put(name, flag);
        });
        return flags;
    }

    /** Whether {@code key} is one of DD's per-model booleans ({@code ViTB32}, {@code RN50x4}, {@code RN50_cc12m}, ...). */
    public static boolean isModelFlag(String key) {
        return modelFlags().containsValue(key);
    }

    /**
     * The CLIP model a DD model flag turns on ({@code value} true), or null for false; a value other than a boolean
     * is bad input naming {@code origin} and the flag.
     */
    static String modelOfFlag(String origin, String flag, Object value) {
        if (!(value instanceof Boolean b)) {
            throw DiscoException.badInput(origin + ": " + flag + ": expected true or false, found " + describe(value));
        }
        return b ? modelNamed(flag) : null;
    }

    private static String modelNamed(String flag) {
        for (Map.Entry<String, String> e : modelFlags().entrySet()) {
            if (e.getValue().equals(flag)) return e.getKey();
        }
        return null;
    }

    /**
     * A DD model flag on the command line ({@code --set ViTL14=true}): adds the model to {@code clip_models} (true) or
     * removes it (false), whatever spelling the list uses; the list starts from the file's (or the default) models.
     */
    static void applyModelFlag(Map<String, Object> m, String flag, Object value) {
        String model = modelOfFlag("--set", flag, value);
        List<String> models = new ArrayList<>();
        Object cur = m.get("clip_models");
        if (cur instanceof List<?> l) for (Object o : l) models.add(String.valueOf(o));
        else if (cur instanceof String str) models.add(str);
        else models.addAll(Settings.DEFAULT_CLIP_MODELS);
        String target = modelNamed(flag);
        if (target == null) return;
        String canon = ClipModelName.resolve(target).canonical();
        models.removeIf(x -> ClipModelName.isValid(x) && ClipModelName.resolve(x).canonical().equals(canon));
        if (model != null) models.add(model);
        m.put("clip_models", models);
    }

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
            } else if (isModelFlag(key)) {
                return new String[] {key, null};
            } else if (NOT_USED.containsKey(key) || key.startsWith("video_init_")) {
                throw DiscoException.badInput(origin + ": '" + key + "': " + NOT_USED_TEXT + " ("
                        + NOT_USED.getOrDefault(key, NOT_USED.get("video_init_path")) + ")");
            } else if (key.equals("set_seed")) {
                throw DiscoException.badInput(origin + ": 'set_seed': DD's seed choice; on the command line use --seed N");
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
        return KEYS.contains(k) || PRESET_KEYS.contains(k) || k.equals("clip_modules_schedules");
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
            if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
                return parse(pngSettings(file, Files.readAllBytes(file)), file + " (" + PNG_SETTINGS_KEY + ")", false,
                        strict);
            }
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

    /** The PNG text chunk in which runs store their resolved settings (see {@code disco.run.Png}). */
    public static final String PNG_SETTINGS_KEY = "disco-settings";

    /**
     * The settings JSON a run wrote into a PNG's {@code tEXt} chunk {@value #PNG_SETTINGS_KEY} (Latin-1; runs escape
     * non-ASCII as {@code \\uXXXX}). A file that is not a PNG, or has no such chunk, is bad input.
     */
    static String pngSettings(Path file, byte[] b) {
        byte[] sig = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        if (b.length < 8 || !java.util.Arrays.equals(java.util.Arrays.copyOf(b, 8), sig)) {
            throw DiscoException.badInput(file + ": not a PNG file (expected a .png written by disco run, or a"
                    + " .json/.yml/.txt settings file)");
        }
        int at = 8;
        while (at + 12 <= b.length) {
            long len = ((b[at] & 0xffL) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
            String type = new String(b, at + 4, 4, StandardCharsets.ISO_8859_1);
            if (len > b.length - at - 12) break;
            if (type.equals("tEXt")) {
                int start = at + 8, end = start + (int) len, nul = start;
                while (nul < end && b[nul] != 0) nul++;
                String key = new String(b, start, nul - start, StandardCharsets.ISO_8859_1);
                if (key.equals(PNG_SETTINGS_KEY) && nul < end) {
                    return new String(b, nul + 1, end - nul - 1, StandardCharsets.ISO_8859_1);
                }
            }
            if (type.equals("IEND")) break;
            at += 12 + (int) len;
        }
        throw DiscoException.badInput(file + ": no " + PNG_SETTINGS_KEY + " text chunk (expected a PNG written by disco"
                + " run, which stores its settings there)");
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
        for (Map.Entry<String, String> e : modelFlags().entrySet()) { // DD's order: OpenAI's, then open_clip's
            String flag = e.getValue();
            if (!m.containsKey(flag)) continue;
            anyFlag = true;
            String model = modelOfFlag(label, flag, m.remove(flag));
            if (model != null) flagged.add(model);
        }
        if (anyFlag) {
            if (m.containsKey("clip_models") && m.get("clip_models") != null) {
                warnings.add(label + ": DD's per-model flags (ViTB32 ... RN101) ignored: clip_models is set");
            } else {
                m.put("clip_models", flagged);
            }
        }
        // DD's set_seed: 'random_seed' or a number (as text); DD saves the seed it used as `seed`, which wins
        if (m.containsKey("set_seed")) {
            Object ss = m.remove("set_seed");
            String text = ss == null ? "random_seed" : String.valueOf(ss).strip();
            Object seed = null;
            if (!text.equals("random_seed")) {
                try {
                    seed = Long.parseLong(text);
                } catch (NumberFormatException e) {
                    throw DiscoException.badInput(label + ": set_seed: expected 'random_seed' or an integer, found "
                            + describe(ss));
                }
            }
            if (m.get("seed") != null) {
                if (seed != null && !String.valueOf(m.get("seed")).equals(String.valueOf(seed))) {
                    warnings.add(label + ": set_seed " + seed + " ignored: seed " + m.get("seed") + " is set (DD saves"
                            + " the seed it used as seed)");
                }
            } else if (seed != null) {
                m.put("seed", seed);
            }
        }
        // DD's frame-keyed prompts: {"0": [...], "100": [...]} -> the prompts of frame 0 (DD's bfill)
        Object tp = m.get("text_prompts");
        if (tp instanceof Map<?, ?> frames && !PromptsV1.isV1(tp)) {
            Object first = firstFrame(frames, label, "text_prompts", warnings);
            if (first == null) {
                throw DiscoException.badInput(label + ": text_prompts: expected prompts, found an empty mapping");
            }
            m.put("text_prompts", first);
        }
        // DD's image_prompts: frame-keyed like text_prompts ({} when unused), or a plain list
        Object ip = m.get("image_prompts");
        if (ip instanceof Map<?, ?> frames) {
            Object first = firstFrame(frames, label, "image_prompts", warnings);
            if (first == null) m.remove("image_prompts");
            else m.put("image_prompts", first);
        }
        return m;
    }

    /** DD's frame-keyed prompts ({@code {"0": [...], "100": [...]}}): the first frame's (DD's bfill), or null when empty. */
    private static Object firstFrame(Map<?, ?> frames, String label, String key, List<String> warnings) {
        TreeMap<Integer, Object> byFrame = new TreeMap<>();
        for (Map.Entry<?, ?> e : frames.entrySet()) {
            int frame;
            try {
                frame = Integer.parseInt(String.valueOf(e.getKey()).strip());
            } catch (NumberFormatException ex) {
                throw DiscoException.badInput(label + ": " + key + ": expected frame numbers as keys, found '"
                        + e.getKey() + "'");
            }
            byFrame.put(frame, e.getValue());
        }
        if (byFrame.isEmpty()) return null;
        if (byFrame.size() > 1) {
            warnings.add(label + ": " + key + ": using the prompts of frame " + byFrame.firstKey()
                    + " (this engine renders still images); frames " + byFrame.keySet().stream().skip(1).toList()
                    + " ignored");
        }
        return byFrame.firstEntry().getValue();
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
        m = applyCutPresets(m, label, origins, warnings);
        for (String k : m.keySet()) {
            if (KEYS.contains(k) || PRESET_KEYS.contains(k) || DERIVED.contains(k) || k.startsWith("_")) continue;
            if (NOT_USED.containsKey(k) || k.startsWith("video_init_")) {
                if (m.get(k) != null) ignored.add(k); // DiscoArt lists unused options as null: nothing to report
            } else {
                unknown.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            warnings.add(label + ": unknown keys ignored (misspelled?): " + String.join(", ", unknown));
        }
        if (!ignored.isEmpty()) {
            warnings.add(label + ": " + NOT_USED_TEXT + ", ignored: " + String.join(", ", ignored)
                    + " (README.md, Settings reference, says why)");
        }
        Reader r = new Reader(m, label, origins);
        PromptsV1 v1 = r.promptsV1(warnings);
        int[] wh = r.widthHeight(d, warnings);
        derivedKeys(m, label, r.integer("steps", d.steps()), warnings);
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
                    v1 != null ? List.of() : r.prompts(d.textPrompts()),
                    r.stringList("image_prompts", d.imagePrompts()),
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
                    r.string("batch_name", d.batchName(), true),
                    v1,
                    r.bool("fuzzy_prompt", d.fuzzyPrompt()),
                    r.number("rand_mag", d.randMag()),

                    r.boolOrNull("useCPU"),
                    r.bool("check_model_SHA", d.checkModelSha()),
                    r.bool("intermediates_in_subfolder", d.intermediatesInSubfolder()),
                    r.integerOrNull("display_rate"),
                    r.boolOrNull("use_checkpoint"),
                    r.integer("gif_fps", d.gifFps()),
                    r.number("gif_size_ratio", d.gifSizeRatio()));
        } catch (IllegalArgumentException e) {
            String msg = e.getMessage();
            int colon = msg.indexOf(':');
            String key = colon > 0 ? msg.substring(0, colon) : "";
            throw DiscoException.badInput(r.where(key) + ": " + msg, e);
        }
    }

    /**
     * Fills in the preset cut schedules: DD's for KaliYuga's diffusion models ({@link CutPresets#forDiffusionModel}),
     * then DiscoArt's {@code cut_schedules_group} over them. A preset sets the keys the settings leave unset; a
     * preset given on the command line (the group, or the diffusion model) also replaces the file's values of its
     * keys, except those given on the command line too. Returns the map without {@code cut_schedules_group}.
     */
    static Map<String, Object> applyCutPresets(Map<String, Object> in, String label, Map<String, String> origins,
                                               List<String> warnings) {
        Map<String, Object> m = new LinkedHashMap<>(in);
        Object group = m.remove("cut_schedules_group");
        Set<String> explicit = new java.util.HashSet<>();
        for (Map.Entry<String, Object> e : m.entrySet()) if (e.getValue() != null) explicit.add(e.getKey());
        String where = origins.getOrDefault("cut_schedules_group", label);
        if (m.get("diffusion_model") instanceof String dm && CutPresets.forDiffusionModel(dm) != null) {
            String name = CutPresets.forDiffusionModel(dm);
            boolean cli = origins.containsKey("diffusion_model");
            List<String> set = new ArrayList<>();
            for (Map.Entry<String, Object> e : CutPresets.group(name).entrySet()) {
                if (!explicit.contains(e.getKey()) || cli && !origins.containsKey(e.getKey())) {
                    m.put(e.getKey(), e.getValue());
                    set.add(e.getKey());
                }
            }
            if (!set.isEmpty()) {
                warnings.add(origins.getOrDefault("diffusion_model", label) + ": diffusion_model " + dm + ": "
                        + String.join(", ", set) + " from DD's " + name + " preset for KaliYuga's models");
            }
        }
        if (group != null) {
            if (!(group instanceof String g)) {
                throw DiscoException.badInput(where + ": cut_schedules_group: expected a group name, found "
                        + describe(group));
            }
            Map<String, Object> values;
            try {
                values = CutPresets.group(g);
            } catch (IllegalArgumentException e) {
                throw DiscoException.badInput(where + ": cut_schedules_group: " + e.getMessage());
            }
            boolean cli = origins.containsKey("cut_schedules_group");
            for (Map.Entry<String, Object> e : values.entrySet()) {
                if (!explicit.contains(e.getKey()) || cli && !origins.containsKey(e.getKey())) {
                    m.put(e.getKey(), e.getValue());
                }
            }
        }
        return m;
    }

    /**
     * DD's derived keys, which this engine computes itself: {@code diffusion_steps} is {@code (1000 // steps) * steps}
     * (just {@code steps} from 1000 up) and {@code timestep_respacing} is {@code ddim<steps>}; a file whose value
     * differs gets a warning saying which value is used.
     */
    private static void derivedKeys(Map<String, Object> m, String label, int steps, List<String> warnings) {
        Object ds = m.get("diffusion_steps");
        long want = steps < 1000 ? (1000L / Math.max(steps, 1)) * steps : steps;
        if (ds instanceof Number n && n.doubleValue() != want) {
            warnings.add(label + ": diffusion_steps: " + ds + " is not what DD derives from steps " + steps + "; using "
                    + want + " ((1000 // steps) * steps)");
        } else if (ds != null && !(ds instanceof Number)) {
            warnings.add(label + ": diffusion_steps: expected a number, found " + describe(ds) + "; using " + want);
        }
        Object tr = m.get("timestep_respacing");
        if (tr != null && !String.valueOf(tr).equals("ddim" + steps)) {
            warnings.add(label + ": timestep_respacing: '" + ScheduleExpr.abbreviate(String.valueOf(tr)) + "' ignored;"
                    + " DD respaces with ddim" + steps + " (from steps)");
        }
    }

    /** The settings as a map with DiscoArt keys (what {@link #toJson} prints; loads back to equal settings). */
    public static Map<String, Object> toMap(Settings s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text_prompts", s.promptsV1() != null ? s.promptsV1().toValue() : s.textPrompts());
        m.put("image_prompts", s.imagePrompts());
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
        m.put("fuzzy_prompt", s.fuzzyPrompt());
        m.put("rand_mag", s.randMag());
        m.put("gif_fps", s.gifFps());
        m.put("gif_size_ratio", s.gifSizeRatio());
        m.put("useCPU", s.useCpu());
        m.put("check_model_SHA", s.checkModelSha());
        m.put("intermediates_in_subfolder", s.intermediatesInSubfolder());
        m.put("display_rate", s.displayRate());
        m.put("use_checkpoint", s.useCheckpoint());
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

        Boolean boolOrNull(String key) {
            return m.get(key) == null ? null : bool(key, false);
        }

        Integer integerOrNull(String key) {
            return m.get(key) == null ? null : integer(key, 0);
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

        PromptsV1 promptsV1(List<String> warnings) {
            Object v = m.get("text_prompts");
            if (!(v instanceof Map<?, ?>)) return null;
            try {
                List<String> w = new ArrayList<>();
                PromptsV1 p = PromptsV1.fromValue(v, w);
                for (String x : w) warnings.add(where("text_prompts") + ": " + x);
                return p;
            } catch (IllegalArgumentException e) {
                throw DiscoException.badInput(where("text_prompts") + ": text_prompts: " + e.getMessage(), e);
            }
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
