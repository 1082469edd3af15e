package disco.reference;

import com.fasterxml.jackson.databind.JsonNode;
import disco.models.clip.ClipModel;
import disco.run.ImagePrompts;
import disco.settings.Prompt;
import disco.torch.Tensors;
import disco.util.Compare;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * verify-reference's image-prompt group (DD's {@code image_prompts}): {@code image_prompts/resize} (the prompt image
 * read and resized with Pillow's LANCZOS as DD's {@code TF.resize} does; absolute error in [0, 1] units, tolerance
 * 1/255) and {@code image_prompts/<model>} for every model of {@code image_prompt_draws.json} (DD's
 * {@code MakeCutouts} with the given draws on {@code image_prompt_resized.npy}, the 16 embeddings, and the target
 * weights; the line's error is the largest of the three).
 */
public final class ImagePromptChecks implements ReferenceCheck {
    public static final double RESIZE_TOL = 1.0 / 255;
    public static final double TOL = 1e-4;
    static final String DRAWS = "image_prompt_draws.json";

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        if (!ctx.has(DRAWS)) {
            out.add(CheckResult.error("image_prompts/resize", DRAWS + " missing"));
            return out;
        }
        JsonNode draws;
        try {
            draws = ctx.json(DRAWS);
        } catch (RuntimeException e) {
            out.add(CheckResult.error("image_prompts/resize", e.getMessage()));
            return out;
        }
        out.add(resize(ctx, draws));
        for (Iterator<Map.Entry<String, JsonNode>> it = draws.path("models").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            out.add(model(ctx, draws, e.getKey(), e.getValue()));
        }
        return out;
    }

    /** The image prompts of the draws file: the first frame's list of {@code "path:weight"}. */
    static List<String> prompts(JsonNode draws) {
        JsonNode ip = draws.path("image_prompts");
        if (ip.isObject() && ip.size() > 0) ip = ip.elements().next();
        List<String> out = new ArrayList<>();
        for (JsonNode p : ip) out.add(p.asText());
        return out;
    }

    static CheckResult resize(ReferenceContext ctx, JsonNode draws) {
        String name = "image_prompts/resize";
        String refFile = "image_prompt_resized.npy";
        if (!ctx.has(refFile)) return CheckResult.error(name, refFile + " missing");
        try {
            List<String> prompts = prompts(draws);
            if (prompts.isEmpty()) return CheckResult.error(name, DRAWS + ": no image_prompts");
            String path = Prompt.parse(prompts.get(0)).text();
            ImagePrompts.Image img = ImagePrompts.load(List.of(ctx.file(path) + ":1"), draws.path("side_x").asInt(),
                    draws.path("side_y").asInt()).get(0);
            Npy.Array ref = ctx.npy(refFile);
            long[] shape = {3, img.height(), img.width()};
            if (!Arrays.equals(shape, ref.shape())) {
                return CheckResult.error(name, "shape " + Arrays.toString(shape) + " vs reference "
                        + Arrays.toString(ref.shape()));
            }
            float[] ours = img.chw();
            float[] want = ref.floats();
            double err = 0;
            for (int i = 0; i < want.length; i++) err = Math.max(err, Math.abs(ours[i] - want[i]));
            return CheckResult.numeric(name, err, RESIZE_TOL);
        } catch (RuntimeException e) {
            return CheckResult.error(name, e.getMessage());
        }
    }

    static CheckResult model(ReferenceContext ctx, JsonNode draws, String model, JsonNode m) {
        String name = "image_prompts/" + model;
        String cutFile = "image_prompt_cutouts-" + model + ".npy", embFile = "image_prompt_embeds-" + model + ".npy";
        for (String f : new String[] {"image_prompt_resized.npy", cutFile, embFile, "image_prompt_weights.npy",
                "clip-" + model + ".pt"}) {
            if (!ctx.has(f)) return CheckResult.error(name, f + " missing");
        }
        try (PointerScope scope = new PointerScope()) {
            Npy.Array resized = ctx.npy("image_prompt_resized.npy");
            int h = (int) resized.shape()[1], w = (int) resized.shape()[2];
            int cutSize = m.path("cut_size").asInt();
            JsonNode cuts = m.path("cutouts");
            int cutn = draws.path("cutn").asInt(ImagePrompts.CUTN);
            ImagePrompts.Draws given = (ch, cs, maxSize, sideX, sideY) -> {
                JsonNode c = cuts.get(ch);
                if (c == null || c.path("full").asBoolean(false)) {
                    throw new IllegalArgumentException(DRAWS + ": models." + model + ".cutouts[" + ch
                            + "]: expected a drawn cutout (size, offsetx, offsety)");
                }
                return new ImagePrompts.Cut(false, c.path("size").asInt(), c.path("offsetx").asInt(),
                        c.path("offsety").asInt());
            };
            float[] ours = ImagePrompts.cutouts(resized.floats(), h, w, cutSize, cutn, given);
            Npy.Array refCuts = ctx.npy(cutFile);
            long[] shape = {cutn, 3, cutSize, cutSize};
            if (!Arrays.equals(shape, refCuts.shape())) {
                return CheckResult.error(name, "cutouts shape " + Arrays.toString(shape) + " vs reference "
                        + Arrays.toString(refCuts.shape()));
            }
            double errCuts = Compare.maxRelErr(ours, refCuts.floats());
            ClipModel clip = ClipModel.load(ctx.file("clip-" + model + ".pt"));
            double errEmb;
            try {
                Tensor emb = ImagePrompts.encode(clip, ours, cutn);
                errEmb = Compare.maxRelErr(Tensors.toFloats(emb), ctx.npy(embFile).floats());
            } finally {
                clip.close();
            }
            List<Prompt> text = new ArrayList<>();
            for (JsonNode p : draws.path("text_prompts")) text.add(Prompt.parse(p.asText()));
            List<Double> iw = new ArrayList<>();
            for (String p : prompts(draws)) iw.add(Prompt.parse(p).weight());
            float[] weights = ImagePrompts.weights(text, iw, cutn);
            float[] refW = ctx.npy("image_prompt_weights.npy").floats();
            if (weights.length != refW.length) {
                return CheckResult.error(name, "weights: " + weights.length + " vs reference " + refW.length);
            }
            double errW = Compare.maxRelErr(weights, refW);
            CheckResult r = CheckResult.numeric(name, Math.max(errCuts, Math.max(errEmb, errW)), TOL);
            return r.pass() ? r : new CheckResult(name, r.maxRelErr(), TOL, false, String.format(
                    "cutouts %.3e, embeds %.3e, weights %.3e", errCuts, errEmb, errW));
        } catch (RuntimeException e) {
            return CheckResult.error(name, e.getMessage());
        }
    }
}
