package disco.models.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.models.tokenizer.SimpleTokenizer;
import disco.util.DiscoException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * An open_clip model config ({@code src/open_clip/model_configs/*.json} as of open_clip 1.3.0, the version DD 5.5
 * installs) as a {@link ClipConfig}: {@code embed_dim}; {@code quick_gelu} (absent: false, i.e. exact GELU in the
 * text transformer and the ViT blocks); {@code vision_cfg} with {@code layers} an int (VisualTransformer) or a list
 * of four (ModifiedResNet), {@code width}, {@code head_width} (default 64), {@code patch_size} (null for the ResNet),
 * {@code mlp_ratio} (default 4), {@code image_size}; {@code text_cfg} with {@code context_length},
 * {@code vocab_size}, {@code width}, {@code heads}, {@code layers}. ViT heads = {@code width // head_width}, ResNet
 * attention-pool heads = {@code width * 32 // head_width}; the networks and their parameter names are OpenAI's.
 * timm image towers are not supported (bad input).
 */
public final class OpenClipConfig {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> TOP = Set.of("embed_dim", "quick_gelu", "vision_cfg", "text_cfg");
    private static final Set<String> VISION = Set.of("image_size", "layers", "width", "head_width", "patch_size",
            "mlp_ratio");
    private static final Set<String> TEXT = Set.of("context_length", "vocab_size", "width", "heads", "layers");

    private OpenClipConfig() {}

    /** Whether a JSON object looks like an open_clip model config (open_clip's own test: all three keys present). */
    public static boolean isOpenClipConfig(JsonNode n) {
        return n != null && n.isObject() && n.has("embed_dim") && n.has("vision_cfg") && n.has("text_cfg");
    }

    /** Reads a config file; bad input naming the file when it is unreadable or not an open_clip config. */
    public static ClipConfig read(Path file) {
        JsonNode n;
        try {
            n = JSON.readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read the open_clip model config (" + e.getMessage() + ")", e);
        }
        return parse(n, file.toString());
    }

    /** The architecture of an open_clip config object; {@code source} names it in errors. */
    public static ClipConfig parse(JsonNode n, String source) {
        if (!isOpenClipConfig(n)) {
            throw DiscoException.badInput(source + ": expected an open_clip model config (embed_dim, vision_cfg, text_cfg)");
        }
        known(n, TOP, source, "");
        int embedDim = positive(n, "embed_dim", source, "");
        boolean quickGelu = false;
        JsonNode qg = n.get("quick_gelu");
        if (qg != null && !qg.isNull()) {
            if (!qg.isBoolean()) throw bad(source, "quick_gelu", "true or false, found " + qg);
            quickGelu = qg.booleanValue();
        }
        JsonNode v = n.get("vision_cfg");
        if (!v.isObject()) throw bad(source, "vision_cfg", "an object");
        if (v.has("timm_model_name") && !v.get("timm_model_name").isNull()) {
            throw bad(source, "vision_cfg.timm_model_name", "no timm image tower (only open_clip's ModifiedResNet and"
                    + " VisualTransformer are supported)");
        }
        known(v, VISION, source, "vision_cfg.");
        int width = positive(v, "width", source, "vision_cfg.");
        int headWidth = v.hasNonNull("head_width") ? positive(v, "head_width", source, "vision_cfg.") : 64;
        int imageSize = imageSize(v, source);
        JsonNode layers = v.get("layers");
        if (layers == null || layers.isNull()) throw bad(source, "vision_cfg.layers", "an int or a list of four, missing");
        JsonNode t = n.get("text_cfg");
        if (!t.isObject()) throw bad(source, "text_cfg", "an object");
        known(t, TEXT, source, "text_cfg.");
        int context = positive(t, "context_length", source, "text_cfg.");
        if (context != SimpleTokenizer.CONTEXT_LENGTH) {
            throw bad(source, "text_cfg.context_length", SimpleTokenizer.CONTEXT_LENGTH + " (CLIP's tokenizer), found "
                    + context);
        }
        int vocab = positive(t, "vocab_size", source, "text_cfg.");
        int textWidth = positive(t, "width", source, "text_cfg.");
        int textHeads = positive(t, "heads", source, "text_cfg.");
        int textLayers = positive(t, "layers", source, "text_cfg.");
        if (textWidth % textHeads != 0) {
            throw bad(source, "text_cfg.heads", "a divisor of the width " + textWidth + ", found " + textHeads);
        }
        if (layers.isArray()) {
            if (layers.size() != 4) throw bad(source, "vision_cfg.layers", "four stage depths, found " + layers);
            List<Integer> stages = new ArrayList<>();
            for (JsonNode l : layers) {
                if (!l.canConvertToInt() || !l.isIntegralNumber() || l.intValue() <= 0) {
                    throw bad(source, "vision_cfg.layers", "four positive ints, found " + layers);
                }
                stages.add(l.intValue());
            }
            if (v.hasNonNull("patch_size")) throw bad(source, "vision_cfg.patch_size", "null for a ResNet tower");
            if (imageSize % 32 != 0) throw bad(source, "vision_cfg.image_size", "a multiple of 32 for a ResNet tower, found " + imageSize);
            int heads = width * 32 / headWidth;
            if (heads <= 0 || (width * 32) % heads != 0) {
                throw bad(source, "vision_cfg.head_width", "heads = width * 32 // head_width dividing " + width * 32);
            }
            return new ClipConfig(embedDim, imageSize, stages, 0, width, 0, heads, context, vocab, textWidth, textHeads,
                    textLayers, quickGelu, 0);
        }
        if (!layers.canConvertToInt() || !layers.isIntegralNumber() || layers.intValue() <= 0) {
            throw bad(source, "vision_cfg.layers", "a positive int or a list of four, found " + layers);
        }
        int patch = positive(v, "patch_size", source, "vision_cfg.");
        if (imageSize % patch != 0) {
            throw bad(source, "vision_cfg.patch_size", "a divisor of image_size " + imageSize + ", found " + patch);
        }
        int heads = width / headWidth;
        if (heads <= 0 || width % heads != 0) {
            throw bad(source, "vision_cfg.head_width", "heads = width // head_width dividing the width " + width);
        }
        double mlpRatio = 4.0;
        JsonNode r = v.get("mlp_ratio");
        if (r != null && !r.isNull()) {
            if (!r.isNumber() || r.doubleValue() <= 0) throw bad(source, "vision_cfg.mlp_ratio", "a positive number, found " + r);
            mlpRatio = r.doubleValue();
        }
        int mlpWidth = (int) (width * mlpRatio); // open_clip: int(d_model * mlp_ratio)
        if (mlpWidth <= 0) throw bad(source, "vision_cfg.mlp_ratio", "an MLP of at least one unit");
        return new ClipConfig(embedDim, imageSize, List.of(), layers.intValue(), width, patch, heads, context, vocab,
                textWidth, textHeads, textLayers, quickGelu, mlpWidth);
    }

    private static int imageSize(JsonNode v, String source) {
        JsonNode s = v.get("image_size");
        if (s == null || s.isNull()) return 224; // CLIPVisionCfg's default
        if (s.isArray()) {
            if (s.size() != 2 || !s.get(0).equals(s.get(1))) {
                throw bad(source, "vision_cfg.image_size", "a square image size, found " + s);
            }
            s = s.get(0);
        }
        if (!s.canConvertToInt() || !s.isIntegralNumber() || s.intValue() <= 0) {
            throw bad(source, "vision_cfg.image_size", "a positive int, found " + s);
        }
        return s.intValue();
    }

    private static void known(JsonNode n, Set<String> keys, String source, String prefix) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!keys.contains(k) && !(prefix.equals("vision_cfg.") && k.startsWith("timm_"))) {
                throw bad(source, prefix + k, "no such key (expected one of " + new java.util.TreeSet<>(keys) + ")");
            }
        }
    }

    private static int positive(JsonNode n, String key, String source, String prefix) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) throw bad(source, prefix + key, "a positive int, missing");
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.intValue() <= 0) {
            throw bad(source, prefix + key, "a positive int, found " + v);
        }
        return v.intValue();
    }

    private static DiscoException bad(String source, String key, String expected) {
        return DiscoException.badInput(source + ": " + key + ": expected " + expected);
    }
}
