package disco.models.clip;

import disco.util.DiscoException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A CLIP architecture: OpenAI's, derived from a state dict's tensor shapes exactly as {@code clip.model.build_model}
 * does ({@link #fromShapes}: a Vision Transformer when {@code visual.proj} exists, else a ModifiedResNet; text heads
 * = width / 64; ResNet vision heads = width * 32 / 64; ViT vision heads = width / 64; input resolution = patch * grid
 * (ViT) or 32 * attention-pool grid (ResNet); QuickGELU; MLPs 4x wide), or open_clip's, read from its model config
 * ({@link OpenClipConfig}). {@code resnetLayers} is empty for a ViT, {@code vitLayers} 0 for a ResNet.
 *
 * @param quickGelu      the transformer MLPs' activation: QuickGELU {@code x·σ(1.702x)} (OpenAI), else exact GELU
 *                       (the ResNet tower is ReLU either way)
 * @param visionMlpWidth the hidden width of the ViT blocks' MLPs (0 for a ResNet); the text MLPs are 4x wide
 */
public record ClipConfig(int embedDim, int imageResolution, List<Integer> resnetLayers, int vitLayers,
                         int visionWidth, int visionPatchSize, int visionHeads, int contextLength, int vocabSize,
                         int transformerWidth, int transformerHeads, int transformerLayers, boolean quickGelu,
                         int visionMlpWidth) {

    /** Entries of OpenAI's released archives that are not weights (ignored by {@code build_model}). */
    public static final Set<String> NON_WEIGHT_KEYS = Set.of("input_resolution", "context_length", "vocab_size");

    public ClipConfig {
        resnetLayers = List.copyOf(resnetLayers);
        boolean vit = resnetLayers.isEmpty();
        if (vit ? vitLayers <= 0 || visionPatchSize <= 0 : resnetLayers.size() != 4 || vitLayers != 0) {
            throw new IllegalArgumentException("a CLIP is either a ViT (layers, patch size) or a 4-stage ResNet");
        }
        for (int v : new int[] {embedDim, imageResolution, visionWidth, visionHeads, contextLength, vocabSize,
                transformerWidth, transformerHeads, transformerLayers}) {
            if (v <= 0) throw new IllegalArgumentException("CLIP sizes must be positive: " + this);
        }
        if (vit ? visionMlpWidth <= 0 : visionMlpWidth != 0) {
            throw new IllegalArgumentException("a ViT CLIP has a positive MLP width, a ResNet none: " + this);
        }
    }

    /** An OpenAI CLIP architecture: QuickGELU, MLPs 4x the width. */
    public ClipConfig(int embedDim, int imageResolution, List<Integer> resnetLayers, int vitLayers, int visionWidth,
                      int visionPatchSize, int visionHeads, int contextLength, int vocabSize, int transformerWidth,
                      int transformerHeads, int transformerLayers) {
        this(embedDim, imageResolution, resnetLayers, vitLayers, visionWidth, visionPatchSize, visionHeads,
                contextLength, vocabSize, transformerWidth, transformerHeads, transformerLayers, true,
                resnetLayers.isEmpty() ? 4 * visionWidth : 0);
    }

    public boolean isVit() {
        return resnetLayers.isEmpty();
    }

    /**
     * The architecture of a state dict given as key to shape; {@code source} names the file in errors (bad input:
     * a missing key or an impossible shape).
     */
    public static ClipConfig fromShapes(Map<String, long[]> shapes, String source) {
        boolean vit = shapes.containsKey("visual.proj");
        int visionWidth, visionPatch, imageRes, visionHeads, vitLayers;
        List<Integer> resnetLayers = new ArrayList<>();
        if (vit) {
            long[] conv1 = need(shapes, "visual.conv1.weight", 4, source);
            visionWidth = (int) conv1[0];
            vitLayers = 0;
            for (String k : shapes.keySet()) {
                if (k.startsWith("visual.") && k.endsWith(".attn.in_proj_weight")) vitLayers++;
            }
            visionPatch = (int) conv1[3];
            long pos = need(shapes, "visual.positional_embedding", 2, source)[0];
            int grid = (int) Math.round(Math.sqrt(Math.max(0, pos - 1)));
            if ((long) grid * grid + 1 != pos) {
                throw bad(source, "visual.positional_embedding", "grid*grid + 1 rows (a square of patches plus the class"
                        + " token), found " + pos);
            }
            imageRes = visionPatch * grid;
            visionHeads = visionWidth / 64;
            if (vitLayers == 0) throw bad(source, "visual.transformer.resblocks.0.attn.in_proj_weight", "a tensor");
            if (visionHeads == 0) throw bad(source, "visual.conv1.weight", "a width of at least 64 (heads = width / 64)");
        } else {
            for (int b = 1; b <= 4; b++) {
                Set<String> blocks = new HashSet<>();
                String prefix = "visual.layer" + b;
                for (String k : shapes.keySet()) {
                    if (k.startsWith(prefix)) {
                        String[] parts = k.split("\\.");
                        if (parts.length > 2) blocks.add(parts[2]);
                    }
                }
                if (blocks.isEmpty()) throw bad(source, prefix + ".0.conv1.weight", "a tensor (ResNet CLIP)");
                resnetLayers.add(blocks.size());
            }
            vitLayers = 0;
            visionWidth = (int) need(shapes, "visual.layer1.0.conv1.weight", 4, source)[0];
            long pos = need(shapes, "visual.attnpool.positional_embedding", 2, source)[0];
            int outputWidth = (int) Math.round(Math.sqrt(Math.max(0, pos - 1)));
            if ((long) outputWidth * outputWidth + 1 != pos) {
                throw bad(source, "visual.attnpool.positional_embedding", "grid*grid + 1 rows, found " + pos);
            }
            visionPatch = 0;
            imageRes = outputWidth * 32;
            visionHeads = visionWidth * 32 / 64;
        }
        int embedDim = (int) need(shapes, "text_projection", 2, source)[1];
        long context = need(shapes, "positional_embedding", 2, source)[0];
        if (context != disco.models.tokenizer.SimpleTokenizer.CONTEXT_LENGTH) {
            throw bad(source, "positional_embedding", disco.models.tokenizer.SimpleTokenizer.CONTEXT_LENGTH
                    + " rows (CLIP's text context), found " + context);
        }
        int contextLength = (int) context;
        int vocabSize = (int) need(shapes, "token_embedding.weight", 2, source)[0];
        int width = (int) need(shapes, "ln_final.weight", 1, source)[0];
        int heads = width / 64;
        if (heads == 0) throw bad(source, "ln_final.weight", "a text width of at least 64 (heads = width / 64)");
        Set<String> textBlocks = new HashSet<>();
        for (String k : shapes.keySet()) {
            if (k.startsWith("transformer.resblocks")) {
                String[] parts = k.split("\\.");
                if (parts.length > 2) textBlocks.add(parts[2]);
            }
        }
        if (textBlocks.isEmpty()) throw bad(source, "transformer.resblocks.0.attn.in_proj_weight", "a tensor");
        return new ClipConfig(embedDim, imageRes, resnetLayers, vitLayers, visionWidth, visionPatch, visionHeads,
                contextLength, vocabSize, width, heads, textBlocks.size());
    }

    private static long[] need(Map<String, long[]> shapes, String key, int rank, String source) {
        long[] s = shapes.get(key);
        if (s == null) throw bad(source, key, "a tensor of rank " + rank + ", missing");
        if (s.length != rank) throw bad(source, key, "rank " + rank + ", found shape " + java.util.Arrays.toString(s));
        return s;
    }

    private static DiscoException bad(String source, String key, String expected) {
        return DiscoException.badInput(source + ": " + key + ": expected " + expected);
    }
}
