package disco.run;

import com.fasterxml.jackson.databind.ObjectMapper;
import disco.models.clip.ClipModel;
import disco.models.clip.OpenClipConfig;
import disco.models.registry.ModelEntry;
import disco.models.registry.Registry;
import disco.models.secondary.SecondaryModel;
import disco.models.tokenizer.SimpleTokenizer;
import disco.models.unet.UNetConfig;
import disco.models.unet.UNetModel;
import disco.plan.StepPlan;
import disco.settings.ClipModelName;
import disco.settings.Settings;
import disco.util.DiscoException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Finds and loads the networks a run's settings name: the diffusion model, DD's secondary model (only when the plan
 * uses it), every CLIP model of {@code clip_models}, the BPE vocabulary and DD's LPIPS network (only when the run
 * has an init and a non-zero {@code init_scale}), from the model directory by their registry names (an
 * {@code openclip} entry is built from its open_clip model config), or the built-in demo networks ({@code RN-tiny},
 * {@code ViT-tiny}, the demo UNet with the demo secondary model and LPIPS). Every file is checked to exist before any is read: a missing one is bad input naming the file and the
 * {@code disco models fetch} command that gets it.
 */
public final class ModelLoader {
    /** The diffusion model name under which {@code disco demo} runs the demo UNet. */
    public static final String DEMO_DIFFUSION_MODEL = "demo";

    private ModelLoader() {}

    /** The demo networks: no file is read, nothing is downloaded. */
    public static Pipeline.Networks demo(Settings s) {
        Map<String, ClipModel> clips = new LinkedHashMap<>();
        for (String m : s.clipModels()) {
            String c = ClipModelName.resolve(m).canonical();
            if (!ClipModel.DEMO_NAMES.contains(c)) {
                throw DiscoException.badInput("clip_models: " + m + ": the demo runs the built-in models only ("
                        + String.join(", ", ClipModel.DEMO_NAMES) + ")");
            }
            clips.put(m, ClipModel.demo(c));
        }
        SecondaryModel sec = Pipeline.needsSecondary(StepPlan.of(s)) ? SecondaryModel.demo() : null;
        return new Pipeline.Networks(UNetModel.demo(), sec, clips, DemoTokens::tokenize,
                needsLpips(s) ? demoLpips() : null);
    }

    /** The registry names of LPIPS's two files: torchvision's vgg16 trunk and LPIPS's v0.1 linear heads. */
    public static final String LPIPS_TRUNK = "vgg16", LPIPS_HEADS = "lpips_vgg";

    /**
     * Whether a run needs DD's LPIPS network: it has an init (image or perlin) and {@code init_scale} is not 0 at
     * some executed step (DD: {@code if init is not None and init_scale}).
     */
    public static boolean needsLpips(Settings s) {
        return RunLoop.hasInit(s) && Pipeline.needsLpips(StepPlan.of(s));
    }

    /** The demo's LPIPS: the vgg16 topology at widths 8–32, random from a fixed seed (no download). */
    public static disco.models.lpips.LpipsModel demoLpips() {
        return disco.models.lpips.LpipsModel.random(new long[] {8, 8, 16, 16, 16, 32, 32, 32, 32, 32, 32, 32, 32},
                20221203L);
    }

    /** LPIPS's two files in {@code modelDir}; both must exist, else one line naming them and the fetch command. */
    static Path[] lpipsFiles(Settings s, Path modelDir, Registry registry) {
        ModelEntry trunk = registry.require(LPIPS_TRUNK), heads = registry.require(LPIPS_HEADS);
        Path t = trunk.location(modelDir), h = heads.location(modelDir);
        java.util.List<String> missing = new java.util.ArrayList<>();
        java.util.List<String> names = new java.util.ArrayList<>();
        if (!Files.isRegularFile(t)) {
            missing.add(t.toString());
            names.add(trunk.name());
        }
        if (!Files.isRegularFile(h)) {
            missing.add(h.toString());
            names.add(heads.name());
        }
        if (!missing.isEmpty()) {
            boolean defaultDir = modelDir == null || modelDir.equals(disco.models.registry.ModelDir.resolve(null));
            String dirFlag = defaultDir ? "" : " --model-dir " + quote(modelDir.toString());
            throw DiscoException.badInput(String.join(", ", missing) + ": missing LPIPS model file"
                    + (missing.size() > 1 ? "s" : "") + " (init_scale is not 0 and the run has an init"
                    + (RunLoop.hasInitImage(s) && !s.perlinInit() ? " image" : "") + "); get "
                    + (missing.size() > 1 ? "them" : "it") + " with: disco models fetch" + dirFlag + " "
                    + String.join(" ", names));
        }
        return new Path[] {t, h};
    }

    /** Loads what {@code s} names from {@code modelDir} (demo CLIP names give the demo CLIPs). */
    public static Pipeline.Networks load(Settings s, Path modelDir, Registry registry) {
        boolean demoUnet = s.diffusionModel().equals(DEMO_DIFFUSION_MODEL);
        // resolve every file first, so a missing one is reported before anything heavy is read
        Path unetFile = null;
        UNetConfig unetConfig = null;
        if (!demoUnet) {
            ModelEntry e = diffusionEntry(s, registry);
            checkDiffusion(e, s);
            unetFile = require(e, modelDir);
            Map<String, Object> cfg = new LinkedHashMap<>(e.config());
            cfg.putAll(s.diffusionModelConfig());
            unetConfig = UNetConfig.fromJson(new ObjectMapper().valueToTree(cfg), "diffusion model " + e.name() + " config");
        }
        boolean needsSecondary = Pipeline.needsSecondary(StepPlan.of(s));
        Path secFile = needsSecondary && !demoUnet ? require(registry.require("secondary_model_imagenet_2"), modelDir) : null;
        Map<String, Path> clipFiles = new LinkedHashMap<>();
        Map<String, disco.models.clip.ClipConfig> openClip = new LinkedHashMap<>();
        boolean allDemo = true;
        for (String m : s.clipModels()) {
            ClipModelName n = ClipModelName.resolve(m);
            if (n.isPath()) {
                Path p = Path.of(n.canonical());
                if (!Files.isRegularFile(p)) throw DiscoException.badInput(p + ": CLIP model file not found (clip_models: " + m + ")");
                clipFiles.put(m, p);
                allDemo = false;
            } else if (ClipModel.DEMO_NAMES.contains(n.canonical())) {
                clipFiles.put(m, null);
            } else {
                ModelEntry e = registry.require(n.canonical());
                clipFiles.put(m, require(e, modelDir));
                if (e.kind().equals(ModelEntry.OPENCLIP)) {
                    openClip.put(m, OpenClipConfig.parse(new ObjectMapper().valueToTree(e.config()),
                            registry.origin() + ": " + e.name() + ": config"));
                } else if (!e.kind().equals(ModelEntry.CLIP)) {
                    throw DiscoException.badInput("clip_models: '" + m + "' is a " + e.kind() + " model, expected a CLIP model");
                }
                allDemo = false;
            }
        }
        Path vocab = allDemo ? null : require(registry.require("bpe_simple_vocab_16e6"), modelDir);
        // the demo UNet comes with the demo LPIPS (nothing to download); any other diffusion model with the real one
        Path[] lpips = needsLpips(s) && !demoUnet ? lpipsFiles(s, modelDir, registry) : null;
        if (s.checkModelSha()) {
            // DD's check_model_SHA: hash each registry file before it is loaded
            if (!demoUnet) checkSha(diffusionEntry(s, registry), unetFile);
            if (secFile != null) checkSha(registry.require("secondary_model_imagenet_2"), secFile);
            for (Map.Entry<String, Path> e : clipFiles.entrySet()) {
                ClipModelName n = ClipModelName.resolve(e.getKey());
                if (e.getValue() != null && !n.isPath()) checkSha(registry.require(n.canonical()), e.getValue());
            }
            if (vocab != null) checkSha(registry.require("bpe_simple_vocab_16e6"), vocab);
            if (lpips != null) {
                checkSha(registry.require("vgg16"), lpips[0]);
                checkSha(registry.require("lpips_vgg"), lpips[1]);
            }
        }

        UNetModel unet = demoUnet ? UNetModel.demo() : UNetModel.load(unetConfig, unetFile);
        SecondaryModel sec = !needsSecondary ? null : demoUnet ? SecondaryModel.demo() : SecondaryModel.load(secFile);
        Map<String, ClipModel> clips = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : clipFiles.entrySet()) {
            String m = e.getKey();
            clips.put(m, e.getValue() == null ? ClipModel.demo(ClipModelName.resolve(m).canonical())
                    : openClip.containsKey(m) ? ClipModel.loadOpenClip(openClip.get(m), e.getValue())
                    : ClipModel.load(e.getValue()));
        }
        Pipeline.TextEncoder text;
        if (vocab == null) {
            text = DemoTokens::tokenize;
        } else {
            text = bpe(SimpleTokenizer.load(vocab));
        }
        disco.models.lpips.LpipsModel lp = !needsLpips(s) ? null : demoUnet ? demoLpips()
                : disco.models.lpips.LpipsModel.load(lpips[0], lpips[1]);
        return new Pipeline.Networks(unet, sec, clips, text, lp);
    }

    /**
     * The registry's diffusion arguments for a model ({@code noise_schedule}, {@code rescale_timesteps}) must be what
     * the settings resolve to (their {@code diffusion_model_config}, else DD's linear, rescaled schedule): the plan is
     * made from the settings alone, so a model trained otherwise needs the keys set ({@code diffusion_steps} is DD's
     * derivation from {@code steps}, whatever the model was trained with).
     */
    static void checkDiffusion(ModelEntry e, Settings s) {
        if (e.diffusion() == null) return;
        disco.plan.DiffusionConfig dc = disco.plan.DiffusionConfig.of(s);
        Map<String, Object> resolved = Map.of("noise_schedule", dc.noiseSchedule(), "rescale_timesteps", dc.rescaleTimesteps());
        for (Map.Entry<String, Object> r : resolved.entrySet()) {
            Object want = e.diffusion().get(r.getKey());
            if (want != null && !s.diffusionModelConfig().containsKey(r.getKey()) && !want.equals(r.getValue())) {
                throw DiscoException.badInput("diffusion_model: " + e.name() + " is registered with " + r.getKey() + " "
                        + want + "; set diffusion_model_config." + r.getKey() + "=" + want + " to run it");
            }
        }
    }

    private static ModelEntry diffusionEntry(Settings s, Registry registry) {
        String name = s.diffusionModel();
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        if (lower.endsWith(".pt") || lower.endsWith(".pth")) {
            Path p = Path.of(name);
            if (s.diffusionModelConfig().isEmpty()) {
                throw DiscoException.badInput("diffusion_model_config: expected the create_model arguments of the custom"
                        + " diffusion model " + p);
            }
            return ModelEntry.custom(p.getFileName().toString(), p, Map.of());
        }
        ModelEntry e = registry.require(name);
        if (!e.kind().equals(ModelEntry.DIFFUSION)) {
            throw DiscoException.badInput("diffusion_model: '" + name + "' is a " + e.kind() + " model, expected a diffusion model");
        }
        return e;
    }

    /**
     * {@code check_model_SHA}: the file's sha256 must be the registry's (a custom model or an entry without a published
     * hash has nothing to check against: skipped); a mismatch is bad input naming the file and the fetch command.
     */
    static void checkSha(ModelEntry e, Path f) {
        if (e.isCustom() || e.sha256() == null) return;
        String got;
        try {
            got = disco.models.registry.Sha256.of(f);
        } catch (java.io.IOException ex) {
            throw new DiscoException(disco.util.ExitCodes.IO_ERROR, f + ": cannot read the model file to hash it ("
                    + ex.getMessage() + ")", ex);
        }
        if (!got.equals(e.sha256())) {
            throw DiscoException.badInput(f + ": sha256 " + got + " is not " + e.sha256() + " (" + e.name()
                    + "; check_model_SHA); get it again with: disco models fetch " + quote(e.name()));
        }
    }

    /** The file of a registry entry; missing → bad input with the fetch command. */
    static Path require(ModelEntry e, Path modelDir) {
        Path f = e.location(modelDir);
        if (!Files.isRegularFile(f)) {
            if (e.isCustom()) throw DiscoException.badInput(f + ": model file not found (" + e.name() + ")");
            boolean defaultDir = modelDir == null || modelDir.equals(disco.models.registry.ModelDir.resolve(null));
            String dirFlag = defaultDir ? "" : " --model-dir " + quote(modelDir.toString());
            throw DiscoException.badInput(f + ": missing model file for " + e.name() + "; get it with: disco models fetch"
                    + dirFlag + " " + quote(e.name()));
        }
        return f;
    }

    private static String quote(String name) {
        return disco.util.Shell.quote(name);
    }

    /** CLIP's BPE tokenizer as the pipeline's text encoder: each prompt to its 77 token ids. */
    public static Pipeline.TextEncoder bpe(SimpleTokenizer tok) {
        return texts -> {
            long[][] out = new long[texts.size()][];
            for (int i = 0; i < out.length; i++) {
                int[] t = tok.tokenize(texts.get(i));
                out[i] = new long[t.length];
                for (int j = 0; j < t.length; j++) out[i][j] = t[j];
            }
            return out;
        };
    }
}
