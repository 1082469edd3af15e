package disco.settings;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything a user sets for a run, with DiscoArt's key names (see {@link SettingsIO} for reading and writing and
 * README.md for the reference). Immutable; validated at construction: an invalid value throws
 * {@link IllegalArgumentException} whose message starts with the settings key ({@code "steps: expected ..."}).
 *
 * @param textPrompts          DD prompts, each {@code "text"} or {@code "text:weight"}
 * @param imagePrompts         DD's image prompts, each {@code "path"} or {@code "path:weight"} (may be empty)
 * @param clipModels           CLIP models as written by the user (any accepted spelling or a checkpoint path)
 * @param clipModelsSchedules  per-model on/off schedules, keyed by a name that resolves to one of clipModels
 * @param schedules            the 13 schedulable scalars as schedule-language sources
 * @param seed                 null: a random seed is drawn at run time
 * @param diffusionModelConfig DiscoArt's overrides of the diffusion model's config (may be empty)
 * @param intermediateSaves    DD's intermediate_saves as a count (0: none); see intermediateSaveSteps
 * @param intermediateSaveSteps DD's intermediate_saves as a list of steps (empty when given as a count)
 * @param promptsV1            DiscoArt's version-1 prompts, or null for DD's list (then textPrompts holds them);
 *                             when set, textPrompts is their texts as written
 * @param fuzzyPrompt          DD's fuzzy_prompt: 25 noisy copies of each prompt embedding instead of the embedding
 * @param randMag              DD's rand_mag: the standard deviation of that noise
 * @param useCpu               DD's useCPU: true runs on the CPU, false on CUDA when there is one; null: {@code --device}
 * @param checkModelSha        DD's check_model_SHA: hash every model file against the registry before loading it
 * @param intermediatesInSubfolder DD's intermediates_in_subfolder: partials in {@code partials/} (true) or beside the images
 * @param displayRate          DD's display_rate: progress.png every N executed steps (and at the last); null: at save steps
 * @param useCheckpoint        DD's use_checkpoint: UNet gradient checkpointing; null: {@code --unet-checkpointing}
 * @param gifFps               DiscoArt's gif_fps: frames per second of the run's {@code progress.gif} (each frame
 *                             {@code 1000 // gif_fps} ms, as DiscoArt); 0: no progress.gif
 * @param gifSizeRatio         DiscoArt's gif_size_ratio: the GIF's frames at this fraction of the image size, in (0, 1]
 */
public record Settings(
        List<String> textPrompts,
        List<String> imagePrompts,
        List<String> clipModels,
        Map<String, String> clipModelsSchedules,
        Map<Scheduled, String> schedules,
        int steps,
        int skipSteps,
        int width,
        int height,
        double eta,
        String initImage,
        boolean perlinInit,
        String perlinMode,
        String diffusionModel,
        Map<String, Object> diffusionModelConfig,
        String diffusionSamplingMode,
        boolean clipDenoised,
        boolean skipAugs,
        Long seed,
        int nBatches,
        int batchSize,
        boolean useHorizontalSymmetry,
        boolean useVerticalSymmetry,
        List<Double> transformationPercent,
        int saveRate,
        int intermediateSaves,
        List<Integer> intermediateSaveSteps,
        String batchName,
        PromptsV1 promptsV1,
        boolean fuzzyPrompt,
        double randMag,
        Boolean useCpu,
        boolean checkModelSha,
        boolean intermediatesInSubfolder,
        Integer displayRate,
        Boolean useCheckpoint,
        int gifFps,
        double gifSizeRatio) {

    public static final List<String> DEFAULT_PROMPTS = List.of(
            "A beautiful painting of a singular lighthouse, shining its light across a tumultuous sea of blood by"
                    + " greg rutkowski and thomas kinkade, Trending on artstation.",
            "yellow color scheme");
    public static final List<String> DEFAULT_CLIP_MODELS = List.of("ViT-B/32", "ViT-B/16", "RN50");
    public static final List<String> PERLIN_MODES = List.of("mixed", "color", "gray");
    public static final List<String> SAMPLING_MODES = List.of("ddim", "plms");
    /** DD's {@code rand_mag} default (its settings cell; DD's README table says 0.1, its code 0.05). */
    public static final double DEFAULT_RAND_MAG = 0.05;
    /** DD's fuzzy prompts: this many noisy copies of each prompt embedding ({@code for i in range(25)}). */
    public static final int FUZZY_COPIES = 25;

    public Settings {
        if (promptsV1 != null) textPrompts = promptsV1.texts();
        textPrompts = List.copyOf(req(textPrompts, "text_prompts"));
        imagePrompts = List.copyOf(req(imagePrompts, "image_prompts"));
        clipModels = List.copyOf(req(clipModels, "clip_models"));
        clipModelsSchedules = Collections.unmodifiableMap(new LinkedHashMap<>(req(clipModelsSchedules,
                "clip_models_schedules")));
        EnumMap<Scheduled, String> sch = new EnumMap<>(Scheduled.class);
        for (Scheduled s : Scheduled.values()) sch.put(s, s.defaultSource());
        sch.putAll(req(schedules, "schedules"));
        schedules = Collections.unmodifiableMap(sch);
        perlinMode = req(perlinMode, "perlin_mode");
        diffusionModel = req(diffusionModel, "diffusion_model");
        diffusionModelConfig = Collections.unmodifiableMap(new LinkedHashMap<>(req(diffusionModelConfig,
                "diffusion_model_config")));
        diffusionSamplingMode = req(diffusionSamplingMode, "diffusion_sampling_mode");
        transformationPercent = List.copyOf(req(transformationPercent, "transformation_percent"));
        intermediateSaveSteps = List.copyOf(req(intermediateSaveSteps, "intermediate_saves"));

        // text prompts: DD's parse_prompt on each, weights must not sum to 0 (DiscoArt's v1 prompts: below)
        if (textPrompts.isEmpty()) throw new IllegalArgumentException("text_prompts: expected at least one prompt");
        if (promptsV1 != null && !imagePrompts.isEmpty()) {
            throw new IllegalArgumentException("image_prompts: not taken with DiscoArt's version-1 text_prompts"
                    + " (give text_prompts as DD's list to use image prompts)");
        }
        if (promptsV1 == null && imagePrompts.isEmpty()) {
            try {
                Prompt.normalize(Prompt.parseAll(textPrompts));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("text_prompts: " + e.getMessage());
            }
        } else if (promptsV1 == null) {
            checkImagePrompts(textPrompts, imagePrompts, skipAugs);
        }
        if (!(randMag >= 0) || Double.isInfinite(randMag)) {
            throw new IllegalArgumentException("rand_mag: expected a finite number >= 0, found " + randMag);
        }
        if (fuzzyPrompt && !imagePrompts.isEmpty()) {
            throw new IllegalArgumentException("fuzzy_prompt: not taken together with image_prompts here (set"
                    + " fuzzy_prompt to false or drop the image prompts)");
        }
        if (fuzzyPrompt && promptsV1 != null) {
            throw new IllegalArgumentException("fuzzy_prompt: DD's fuzzy prompts apply to DD's list of text_prompts;"
                    + " DiscoArt's version-1 text_prompts do not take them (DiscoArt drops fuzzy_prompt): set"
                    + " fuzzy_prompt to false or give text_prompts as a list");
        }
        // models and their schedules
        if (clipModels.isEmpty()) throw new IllegalArgumentException("clip_models: expected at least one CLIP model");
        List<String> canon = new ArrayList<>();
        for (String m : clipModels) {
            ClipModelName n;
            try {
                n = ClipModelName.resolve(m);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("clip_models: " + e.getMessage());
            }
            if (canon.contains(n.canonical())) {
                throw new IllegalArgumentException("clip_models: '" + m + "' names " + n.canonical() + " twice");
            }
            canon.add(n.canonical());
        }
        boolean[] scheduled = new boolean[clipModels.size()];
        for (Map.Entry<String, String> e : clipModelsSchedules.entrySet()) {
            int idx = modelIndex(clipModels, e.getKey());
            if (scheduled[idx]) {
                throw new IllegalArgumentException("clip_models_schedules: '" + e.getKey() + "' schedules "
                        + clipModels.get(idx) + " a second time");
            }
            scheduled[idx] = true;
            try {
                ScheduleExpr.parseModelSchedule(e.getValue());
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("clip_models_schedules: " + e.getKey() + ": " + ex.getMessage());
            }
        }
        for (Map.Entry<Scheduled, String> e : schedules.entrySet()) {
            try {
                e.getKey().parse(e.getValue());
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException(e.getKey().key() + ": " + ex.getMessage());
            }
        }
        if (steps < 1) throw new IllegalArgumentException("steps: expected at least 1, found " + steps);
        if (steps > MAX_STEPS) throw new IllegalArgumentException("steps: expected at most " + MAX_STEPS + ", found " + steps);
        if (steps == 1) {
            // DD respaces (1000 // 1) * 1 = 1000 steps with ddim1, which no integer stride in range(1, 1000) gives
            throw new IllegalArgumentException("steps: expected at least 2: DD cannot respace 1000 diffusion steps to"
                    + " ddim1");
        }
        if (skipSteps < 0 || skipSteps >= steps) {
            throw new IllegalArgumentException("skip_steps: expected 0 <= skip_steps < steps (" + steps + "), found "
                    + skipSteps);
        }
        if (width < 64 || height < 64 || width % 64 != 0 || height % 64 != 0) {
            throw new IllegalArgumentException("width_height: expected multiples of 64, at least 64, found ["
                    + width + ", " + height + "]");
        }
        if (width > MAX_SIDE || height > MAX_SIDE) {
            throw new IllegalArgumentException("width_height: expected at most " + MAX_SIDE + " pixels a side, found ["
                    + width + ", " + height + "]");
        }
        if ((long) width * height * 3 * batchSize > MAX_IMAGE_VALUES) {
            throw new IllegalArgumentException("width_height: " + width + "x" + height + " x batch_size " + batchSize
                    + " is too large: the batch's images would have " + (long) width * height * 3 * batchSize
                    + " values, expected at most " + MAX_IMAGE_VALUES);
        }
        if (!(eta >= 0) || Double.isInfinite(eta)) throw new IllegalArgumentException("eta: expected >= 0, found " + eta);
        if (!PERLIN_MODES.contains(perlinMode)) {
            throw new IllegalArgumentException("perlin_mode: expected one of " + PERLIN_MODES + ", found '" + perlinMode + "'");
        }
        if (!SAMPLING_MODES.contains(diffusionSamplingMode)) {
            throw new IllegalArgumentException("diffusion_sampling_mode: expected one of " + SAMPLING_MODES + ", found '"
                    + diffusionSamplingMode + "'");
        }
        if (seed != null && (seed < 0 || seed > 0xFFFF_FFFFL + 1)) {
            throw new IllegalArgumentException("seed: expected 0..2**32 or null, found " + seed);
        }
        if (nBatches < 1) throw new IllegalArgumentException("n_batches: expected at least 1, found " + nBatches);
        if (batchSize < 1) throw new IllegalArgumentException("batch_size: expected at least 1, found " + batchSize);
        for (double p : transformationPercent) {
            if (!(p >= 0 && p <= 1)) {
                throw new IllegalArgumentException("transformation_percent: expected fractions in [0, 1], found " + p);
            }
        }
        if (batchName != null && (batchName.contains("/") || batchName.contains("\\") || batchName.equals(".")
                || batchName.equals("..") || batchName.indexOf('\0') >= 0)) {
            // the run directory is OUT/<batch_name>: a path here would write outside OUT
            throw new IllegalArgumentException("batch_name: expected a file name without '/' or '\\', found '"
                    + ScheduleExpr.abbreviate(batchName) + "'");
        }
        if (promptsV1 != null) {
            try {
                promptPlan(promptsV1, clipModels);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("text_prompts: " + e.getMessage());
            }
        }
        if (saveRate < 0) throw new IllegalArgumentException("save_rate: expected >= 0, found " + saveRate);
        if (displayRate != null && displayRate < 1) {
            // DD takes j % display_rate: 0 fails there
            throw new IllegalArgumentException("display_rate: expected at least 1 (or null), found " + displayRate);
        }
        if (intermediateSaves < 0) {
            throw new IllegalArgumentException("intermediate_saves: expected >= 0, found " + intermediateSaves);
        }
        if (gifFps < 0) {
            // DiscoArt writes its progress GIF only when gif_fps > 0
            throw new IllegalArgumentException("gif_fps: expected frames per second > 0 (or 0: no progress.gif), found " + gifFps);
        }
        if (!(gifSizeRatio > 0 && gifSizeRatio <= 1)) {
            throw new IllegalArgumentException("gif_size_ratio: expected a number in (0, 1] (the GIF's size as a fraction of"
                    + " the image's), found " + gifSizeRatio);
        }
    }

    /** DiscoArt's defaults of {@code gif_fps} and {@code gif_size_ratio}. */
    public static final int DEFAULT_GIF_FPS = 20;
    public static final double DEFAULT_GIF_SIZE_RATIO = 0.5;

    /**
     * DD's image prompts: each {@code path[:weight]} names a local file (DD fetches URLs; this engine does not
     * download), {@code skip_augs} must be true (DD's augmentations of image-prompt cutouts are not implemented
     * here), and the text and image weights together must not sum to 0 (DD's check, over the targets it builds).
     */
    private static void checkImagePrompts(List<String> textPrompts, List<String> imagePrompts, boolean skipAugs) {
        double sum = 0;
        try {
            for (Prompt p : Prompt.parseAll(textPrompts)) sum += p.weight();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("text_prompts: " + e.getMessage());
        }
        for (String ip : imagePrompts) {
            Prompt p;
            try {
                p = Prompt.parse(ip);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("image_prompts: " + e.getMessage());
            }
            if (p.text().isBlank()) throw new IllegalArgumentException("image_prompts: expected a file path, found \"" + ip + "\"");
            if (p.text().startsWith("http://") || p.text().startsWith("https://")) {
                throw new IllegalArgumentException("image_prompts: '" + ScheduleExpr.abbreviate(p.text()) + "': only local"
                        + " image files are read (download it and give its path)");
            }
            sum += p.weight();
        }
        if (!skipAugs) {
            throw new IllegalArgumentException("image_prompts: need skip_augs: true (DD's random flip, affine,"
                    + " perspective and grayscale augmentations of image-prompt cutouts are not implemented)");
        }
        if (Math.abs(sum) < Prompt.MIN_ABS_SUM) {
            throw new IllegalArgumentException("image_prompts: the weights of the text and image prompts must not sum to"
                    + " 0: they sum to " + sum);
        }
    }

    /** The largest width or height: far beyond what any GPU holds for a diffusion UNet, and within int indexing. */
    public static final int MAX_SIDE = 8192;
    /**
     * The most values (batch_size × 3 × height × width) a batch of images may have (2^28, 1 GiB of float32; 8192² RGB
     * fits): the host copies of the images are Java arrays, and a larger batch is a typo, not a run.
     */
    public static final long MAX_IMAGE_VALUES = 1L << 28;
    /** The most steps: DD respaces its diffusion over them; more than this is a typo that would plan for minutes. */
    public static final int MAX_STEPS = 100_000;

    /** DiscoArt's defaults (resources/default.yml), with DD's names for the default CLIP models. */
    public static Settings defaults() {
        return new Settings(DEFAULT_PROMPTS, List.of(), DEFAULT_CLIP_MODELS, Map.of(), Map.of(), 250, 0, 1280, 768, 0.8, null,
                false, "mixed", "512x512_diffusion_uncond_finetune_008100", Map.of(), "ddim", false, false, null, 4, 1,
                false, false, List.of(0.09), 20, 0, List.of(), null, null, false, DEFAULT_RAND_MAG, null, false, true, null, null,
                DEFAULT_GIF_FPS, DEFAULT_GIF_SIZE_RATIO);
    }

    /** The schedule source of one scalar. */
    public String scheduleSource(Scheduled s) {
        return schedules.get(s);
    }

    /** The parsed schedule of one scalar. */
    public Schedule schedule(Scheduled s) {
        return s.parse(schedules.get(s));
    }

    /** The prompts, parsed (weights not normalised). */
    public List<Prompt> prompts() {
        return Prompt.parseAll(textPrompts);
    }

    /**
     * DiscoArt's version-1 prompts with every {@code clip_guidance} entry spelled as its {@code clip_models} entry is
     * written (the plan's model keys), or null for DD's list of prompts.
     */
    public PromptsV1 promptPlan() {
        return promptsV1 == null ? null : promptPlan(promptsV1, clipModels);
    }

    private static PromptsV1 promptPlan(PromptsV1 p, List<String> clipModels) {
        return p.withClipGuidance(name -> {
            for (String m : clipModels) if (m.equals(name)) return m;
            if (ClipModelName.isValid(name)) {
                String c = ClipModelName.resolve(name).canonical();
                for (String m : clipModels) if (ClipModelName.resolve(m).canonical().equals(c)) return m;
            }
            throw new IllegalArgumentException("'" + name + "' is not one of clip_models " + clipModels);
        });
    }

    /** The texts the CLIP models encode: DD's prompts or DiscoArt's v1 prompts, each without its weight suffix. */
    public List<String> promptTexts() {
        return promptsV1 != null ? promptsV1.parsedTexts() : prompts().stream().map(Prompt::text).toList();
    }

    /** The clip_models entries resolved to canonical names, in order. */
    public List<ClipModelName> clipModelNames() {
        List<ClipModelName> out = new ArrayList<>();
        for (String m : clipModels) out.add(ClipModelName.resolve(m));
        return out;
    }

    /**
     * The per-model schedule sources keyed by the clip_models entry as written (a schedule key may use another
     * spelling of the same model); models without a schedule are absent (always on).
     */
    public Map<String, String> modelSchedulesByWrittenName() {
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : clipModelsSchedules.entrySet()) {
            out.put(clipModels.get(modelIndex(clipModels, e.getKey())), e.getValue());
        }
        return out;
    }

    private static int modelIndex(List<String> clipModels, String key) {
        for (int i = 0; i < clipModels.size(); i++) {
            if (clipModels.get(i).equals(key)) return i;
        }
        if (ClipModelName.isValid(key)) {
            String c = ClipModelName.resolve(key).canonical();
            for (int i = 0; i < clipModels.size(); i++) {
                if (ClipModelName.resolve(clipModels.get(i)).canonical().equals(c)) return i;
            }
        }
        throw new IllegalArgumentException("clip_models_schedules: '" + key + "' is not one of clip_models "
                + clipModels);
    }

    private static <T> T req(T v, String key) {
        if (v == null) throw new IllegalArgumentException(key + ": expected a value, found null");
        return v;
    }
}
