package disco.reference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.guidance.ClipGuidance;
import disco.models.clip.ClipConfig;
import disco.models.clip.ClipModel;
import disco.models.clip.OpenClipConfig;
import disco.models.tokenizer.SimpleTokenizer;
import disco.plan.FixtureSettings;
import disco.run.Pipeline;
import disco.sampling.GuidanceCall;
import disco.sampling.GuidanceResult;
import disco.settings.Prompt;
import disco.torch.Tensors;
import disco.util.Compare;
import disco.util.DiscoException;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * verify-reference's OpenCLIP group, for every {@code openclip-<name>.json} (an open_clip model config) with its
 * {@code openclip-<name>.pt} in the directory: {@code openclip/text_embeds/<name>} (settings.json's prompts without
 * their {@code :weight} suffix, open_clip's tokenizer, {@code encode_text}), {@code openclip/image_embeds/<name>}
 * ({@code openclip_image_in.npy} through {@code encode_image}); then {@code openclip/grad}: DD's {@code cond_fn} at
 * {@code openclip.json}'s {@code grad_index} with the models of its {@code grad.models} as the CLIP models, every
 * one always on, the path per its {@code use_secondary_model} (gradient and loss values; the line's error is the
 * larger). The checkpoint form (plain or wrapped) is detected from the file and compared with
 * {@code openclip.json}'s {@code format} where that is given.
 */
public final class OpenClipReferenceChecks implements ReferenceCheck {
    static final double EMBEDS_TOL = 1e-4;
    static final double GRAD_TOL = 1e-3;
    static final String IMAGE_IN = "openclip_image_in.npy";
    static final String META = "openclip.json";

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        List<String> names = modelNames(ctx.dir());
        if (names.isEmpty()) return out;
        SimpleTokenizer tok = null;
        String vocabError = null;
        try {
            Path vocab = ctx.vocab().orElse(null);
            if (vocab == null) vocabError = "no BPE vocabulary (" + SimpleTokenizer.VOCAB_FILE + "): pass --vocab";
            else tok = SimpleTokenizer.load(vocab);
        } catch (RuntimeException e) {
            vocabError = e.getMessage();
        }
        JsonNode meta = null;
        String metaError = null;
        try {
            meta = ctx.has(META) ? ctx.json(META) : null;
            if (meta == null) metaError = META + " missing";
        } catch (RuntimeException e) {
            metaError = e.getMessage();
        }
        for (String name : names) {
            try (PointerScope scope = new PointerScope()) {
                ClipModel m;
                try {
                    m = load(ctx, name, meta);
                } catch (RuntimeException e) {
                    String why = firstLine(e);
                    out.add(CheckResult.error("openclip/text_embeds/" + name, why));
                    out.add(CheckResult.error("openclip/image_embeds/" + name, why));
                    continue;
                }
                try {
                    out.add(textEmbeds(ctx, name, m, tok, vocabError));
                    out.add(imageEmbeds(ctx, name, m));
                } finally {
                    m.close();
                }
            }
        }
        out.add(meta == null ? CheckResult.error("openclip/grad", metaError) : grad(ctx, meta, tok, vocabError));
        return out;
    }

    /** The {@code <name>} of every {@code openclip-<name>.json} in {@code dir}, sorted. */
    public static List<String> modelNames(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(f -> f.startsWith("openclip-") && f.endsWith(".json") && f.length() > 14)
                    .map(f -> f.substring(9, f.length() - 5)).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** {@code openclip-<name>.pt} in the architecture of {@code openclip-<name>.json}; its form checked against the meta. */
    static ClipModel load(ReferenceContext ctx, String name, JsonNode meta) {
        ClipConfig cfg = OpenClipConfig.read(ctx.file("openclip-" + name + ".json"));
        Path pt = ctx.file("openclip-" + name + ".pt");
        if (!Files.isRegularFile(pt)) throw DiscoException.badInput(pt + ": missing (the checkpoint of openclip-" + name + ".json)");
        ClipModel m = ClipModel.loadOpenClip(cfg, pt);
        JsonNode format = meta == null ? null : meta.path("models").path(name).get("format");
        if (format != null && format.isTextual() && !format.textValue().equals(m.openClipForm().word())) {
            String found = m.openClipForm().word();
            m.close();
            throw DiscoException.badInput(pt + ": detected a " + found + " checkpoint, " + META + " says "
                    + format.textValue());
        }
        return m;
    }

    static CheckResult textEmbeds(ReferenceContext ctx, String model, ClipModel m, SimpleTokenizer tok, String vocabError) {
        String name = "openclip/text_embeds/" + model;
        String refFile = "openclip_text_embeds-" + model + ".npy";
        if (!ctx.has(refFile)) return CheckResult.error(name, refFile + " missing");
        if (tok == null) return CheckResult.error(name, vocabError);
        try {
            List<String> texts = new ArrayList<>();
            for (JsonNode p : ctx.settings().path("prompts")) texts.add(Prompt.parse(p.asText()).text());
            long[] ids = new long[texts.size() * SimpleTokenizer.CONTEXT_LENGTH];
            for (int i = 0; i < texts.size(); i++) {
                int[] t = tok.tokenizeOpenClip(texts.get(i));
                for (int j = 0; j < t.length; j++) ids[i * SimpleTokenizer.CONTEXT_LENGTH + j] = t[j];
            }
            Tensor emb = m.encodeText(Tensors.fromLongs(ids, texts.size(), SimpleTokenizer.CONTEXT_LENGTH));
            return compare(name, emb, ctx.npy(refFile), EMBEDS_TOL);
        } catch (RuntimeException e) {
            return CheckResult.error(name, firstLine(e));
        }
    }

    static CheckResult imageEmbeds(ReferenceContext ctx, String model, ClipModel m) {
        String name = "openclip/image_embeds/" + model;
        String refFile = "openclip_image_embeds-" + model + ".npy";
        if (!ctx.has(refFile)) return CheckResult.error(name, refFile + " missing");
        if (!ctx.has(IMAGE_IN)) return CheckResult.error(name, IMAGE_IN + " missing");
        try {
            Npy.Array in = ctx.npy(IMAGE_IN);
            Tensor emb = m.encodeImage(Tensors.fromFloats(in.floats(), in.shape()));
            return compare(name, emb, ctx.npy(refFile), EMBEDS_TOL);
        } catch (RuntimeException e) {
            return CheckResult.error(name, firstLine(e));
        }
    }

    private static CheckResult compare(String name, Tensor ours, Npy.Array ref, double tol) {
        long[] shape = Tensors.shape(ours);
        if (!Arrays.equals(shape, ref.shape())) {
            return CheckResult.error(name, "shape " + Arrays.toString(shape) + " vs reference " + Arrays.toString(ref.shape()));
        }
        return CheckResult.numeric(name, Compare.maxRelErr(Tensors.toFloats(ours), ref.floats()), tol);
    }

    /** DD's cond_fn with the open_clip models as the CLIP models (every one on), per {@code openclip.json → grad}. */
    static CheckResult grad(ReferenceContext ctx, JsonNode meta, SimpleTokenizer tok, String vocabError) {
        String name = "openclip/grad";
        if (tok == null) return CheckResult.error(name, vocabError);
        JsonNode g = meta.get("grad");
        if (g == null || !g.isObject()) return CheckResult.error(name, META + ": grad: missing");
        try (PointerScope scope = new PointerScope()) {
            List<String> models = new ArrayList<>();
            for (JsonNode n : g.path("models")) models.add(n.asText());
            if (models.isEmpty()) return CheckResult.error(name, META + ": grad.models: expected the open_clip models");
            int index = need(g, "grad_index").asInt();
            boolean secondary = need(g, "use_secondary_model").asBoolean();
            // settings.json with the open_clip models always on, at the grad's index
            ObjectNode json = ctx.settings().deepCopy();
            json.set("clip_models", json.arrayNode().addAll(models.stream().map(json::textNode).toList()));
            json.remove("schedules");
            json.remove("clip_models_schedules");
            json.put("grad_index", index);
            FixtureSettings fs = new FixtureSettings(ctx.file("settings.json"), json);
            Map<String, ClipModel> clips = new LinkedHashMap<>();
            try {
                for (String m : models) clips.put(m, load(ctx, m, meta));
                JsonNode res = g.get("input_resolution");
                for (Map.Entry<String, ClipModel> e : clips.entrySet()) {
                    if (res != null && res.asInt() != e.getValue().inputResolution()) {
                        return CheckResult.error(name, e.getKey() + ": cut size " + e.getValue().inputResolution()
                                + " (the config's image_size), " + META + " says " + res.asInt());
                    }
                }
                SamplerReferenceChecks.Engine engine = SamplerReferenceChecks.Engine.load(ctx, fs, clips);
                SamplerReferenceChecks.Variant v = new SamplerReferenceChecks.Variant("openclip", secondary, false, false, false);
                ClipGuidance guidance = engine.pipeline(v).guidance(Pipeline.Stages.FAST, 0, Pipeline.Hooks.NONE);
                Npy.Array x = ctx.npy("openclip_grad_x.npy");
                float[] xf = x.floats();
                GuidanceResult r = guidance.guide(new GuidanceCall(Tensors.fromFloats(xf, x.shape()), index, index,
                        null, 0, guidance.stepOf(index), 0));
                double eG = Compare.maxRelErr(Tensors.toFloats(r.grad()), ctx.npy("openclip_grad.npy").floats());
                String lossFile = "openclip_grad_loss_values.npy";
                if (!ctx.has(lossFile)) return CheckResult.numeric(name, eG, GRAD_TOL);
                double[] refLoss = ctx.npy(lossFile).doubles();
                double[] ours = r.losses().stream().mapToDouble(GuidanceResult.LossValue::value).toArray();
                if (ours.length != refLoss.length) {
                    return CheckResult.error(name, "loss values: " + ours.length + " computed, reference has " + refLoss.length);
                }
                double eL = Compare.maxRelErr(ours, refLoss);
                double err = Double.isNaN(eG) || Double.isNaN(eL) ? Double.NaN : Math.max(eG, eL);
                return new CheckResult(name, err, GRAD_TOL, err <= GRAD_TOL, String.format("grad %.2e, losses %.2e", eG, eL));
            } finally {
                for (ClipModel m : clips.values()) m.close();
            }
        } catch (RuntimeException e) {
            return CheckResult.error(name, firstLine(e));
        }
    }

    private static JsonNode need(JsonNode g, String key) {
        JsonNode v = g.get(key);
        if (v == null || v.isNull()) throw DiscoException.badInput(META + ": grad." + key + ": missing");
        return v;
    }

    private static String firstLine(RuntimeException e) {
        return String.valueOf(e.getMessage()).split("\n", 2)[0];
    }
}
