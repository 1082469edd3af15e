package disco.models.unet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.util.DiscoException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * guided-diffusion's {@code create_model} arguments, resolved: {@code channelMult} with the image-size default
 * applied, {@code attentionDs} as downsample factors ({@code image_size // res} for each attention resolution).
 * Immutable and validated at construction.
 *
 * @param imageSize          the training resolution (picks the default channel_mult and the attention factors)
 * @param numChannels        model_channels
 * @param numResBlocks       residual blocks per level
 * @param channelMult        multiplier per level (0.5 allowed: channels are {@code (int)(mult * numChannels)})
 * @param attentionDs        downsample factors at which attention blocks sit
 * @param numHeads           heads when {@code numHeadChannels == -1}
 * @param numHeadChannels    channels per head, or -1
 * @param numHeadsUpsample   heads in the output blocks (-1: numHeads)
 * @param useScaleShiftNorm  FiLM conditioning in the residual blocks
 * @param resblockUpdown     residual blocks do the up/downsampling
 * @param learnSigma         6 output channels (eps, then the variance interpolation)
 * @param useNewAttentionOrder QKVAttention (split qkv, then heads) instead of QKVAttentionLegacy
 * @param useFp16            the upstream flag; the Java network computes in the dtype of its parameters (the run's
 *                           precision follows the settings' use_fp16: fp16 on CUDA)
 * @param dropout            training-only; the network runs in eval mode
 */
public record UNetConfig(int imageSize, int numChannels, int numResBlocks, double[] channelMult, int[] attentionDs,
        int numHeads, int numHeadChannels, int numHeadsUpsample, boolean useScaleShiftNorm, boolean resblockUpdown,
        boolean learnSigma, boolean useNewAttentionOrder, boolean useFp16, double dropout) {

    private static final Set<String> MODEL_KEYS = Set.of("image_size", "num_channels", "num_res_blocks",
            "channel_mult", "learn_sigma", "class_cond", "use_checkpoint", "attention_resolutions", "num_heads",
            "num_head_channels", "num_heads_upsample", "use_scale_shift_norm", "dropout", "resblock_updown",
            "use_fp16", "use_new_attention_order");
    /**
     * create_model_and_diffusion's diffusion arguments: allowed beside the model's; the settings layer's diffusion
     * config (plan.DiffusionConfig) applies or refuses each of them before a network is built.
     */
    private static final Set<String> DIFFUSION_KEYS = Set.of("diffusion_steps", "noise_schedule",
            "timestep_respacing", "use_kl", "predict_xstart", "rescale_timesteps", "rescale_learned_sigmas",
            "sigma_small");

    public UNetConfig {
        channelMult = channelMult.clone();
        attentionDs = attentionDs.clone();
        if (numHeadsUpsample == -1) numHeadsUpsample = numHeads;
    }

    @Override
    public double[] channelMult() {
        return channelMult.clone();
    }

    @Override
    public int[] attentionDs() {
        return attentionDs.clone();
    }

    /** Output channels: 6 with learn_sigma, else 3. */
    public int outChannels() {
        return learnSigma ? 6 : 3;
    }

    /** Channels of a level with multiplier {@code mult}, as upstream: {@code int(mult * model_channels)}. */
    public int channels(double mult) {
        return (int) (mult * numChannels);
    }

    /** Height and width must be multiples of this (one halving per level but the last). */
    public int sizeMultiple() {
        return 1 << (channelMult.length - 1);
    }

    public boolean attentionAt(int ds) {
        for (int a : attentionDs) if (a == ds) return true;
        return false;
    }

    /** Reads a create_model-style JSON file ({@code unet.json}, {@code architectures/unet-*.config.json}). */
    public static UNetConfig read(Path file) {
        JsonNode node;
        try {
            node = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read JSON (" + e.getMessage() + ")", e);
        }
        return fromJson(node, file.toString());
    }

    /** Parses create_model arguments; {@code source} names the file in error messages. */
    public static UNetConfig fromJson(JsonNode n, String source) {
        if (n == null || !n.isObject()) throw DiscoException.badInput(source + ": expected a JSON object of create_model arguments");
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!MODEL_KEYS.contains(k) && !DIFFUSION_KEYS.contains(k)) {
                throw DiscoException.badInput(source + ": " + k + ": unknown key (expected create_model arguments)");
            }
        }
        int imageSize = intKey(n, source, "image_size", null);
        int numChannels = intKey(n, source, "num_channels", null);
        int numResBlocks = intKey(n, source, "num_res_blocks", null);
        if (imageSize <= 0) throw DiscoException.badInput(source + ": image_size: expected a positive integer");
        if (numChannels <= 0) throw DiscoException.badInput(source + ": num_channels: expected a positive integer");
        if (numResBlocks < 0) throw DiscoException.badInput(source + ": num_res_blocks: expected >= 0");
        double[] mult = channelMult(n.get("channel_mult"), imageSize, source);
        int[] ds = attentionDs(n.get("attention_resolutions"), imageSize, source);
        int numHeads = intKey(n, source, "num_heads", 1);
        int numHeadChannels = intKey(n, source, "num_head_channels", -1);
        int numHeadsUpsample = intKey(n, source, "num_heads_upsample", -1);
        if (boolKey(n, source, "class_cond", false)) {
            throw DiscoException.badInput(source + ": class_cond: expected false (class-conditional models are not supported)");
        }
        // DD's use_checkpoint is UNet checkpointing, a run option (the run's performance options take it from the config)
        boolKey(n, source, "use_checkpoint", false);
        UNetConfig c = new UNetConfig(imageSize, numChannels, numResBlocks, mult, ds, numHeads, numHeadChannels,
                numHeadsUpsample, boolKey(n, source, "use_scale_shift_norm", false),
                boolKey(n, source, "resblock_updown", false), boolKey(n, source, "learn_sigma", false),
                boolKey(n, source, "use_new_attention_order", false), boolKey(n, source, "use_fp16", false),
                doubleKey(n, source, "dropout", 0.0));
        c.validate(source);
        return c;
    }

    /** Checks that the network can be built: GroupNorm32 channel counts and head splits. */
    public void validate(String source) {
        if (numHeads <= 0 && numHeadChannels == -1) throw DiscoException.badInput(source + ": num_heads: expected >= 1");
        if (numHeadsUpsample <= 0 && numHeadChannels == -1) {
            throw DiscoException.badInput(source + ": num_heads_upsample: expected >= 1 or -1");
        }
        if (numHeadChannels == 0 || numHeadChannels < -1) {
            throw DiscoException.badInput(source + ": num_head_channels: expected a positive integer or -1");
        }
        int ds = 1;
        for (int level = 0; level < channelMult.length; level++) {
            int ch = channels(channelMult[level]);
            if (ch <= 0 || ch % 32 != 0) {
                throw DiscoException.badInput(source + ": channel_mult: level " + level + " has " + ch
                        + " channels; GroupNorm32 needs a positive multiple of 32 (num_channels * mult)");
            }
            if (attentionAt(ds)) {
                if (numHeadChannels != -1 && ch % numHeadChannels != 0) {
                    throw DiscoException.badInput(source + ": num_head_channels: " + numHeadChannels
                            + " does not divide the " + ch + " channels of level " + level);
                }
                for (int heads : new int[] {numHeads, numHeadsUpsample}) {
                    if (numHeadChannels == -1 && ch % heads != 0) {
                        throw DiscoException.badInput(source + ": num_heads: " + heads + " heads do not divide the "
                                + ch + " channels of level " + level);
                    }
                }
            }
            if (level != channelMult.length - 1) ds *= 2;
        }
        int mid = channels(channelMult[channelMult.length - 1]);
        if (numHeadChannels != -1 && mid % numHeadChannels != 0 || numHeadChannels == -1 && mid % numHeads != 0) {
            throw DiscoException.badInput(source + ": num_heads/num_head_channels do not divide the middle block's "
                    + mid + " channels");
        }
    }

    private static double[] channelMult(JsonNode v, int imageSize, String source) {
        if (v == null || v.isNull() || v.isTextual() && v.asText().isBlank()) {
            return switch (imageSize) {
                case 512 -> new double[] {0.5, 1, 1, 2, 2, 4, 4};
                case 256 -> new double[] {1, 1, 2, 2, 4, 4};
                case 128 -> new double[] {1, 1, 2, 3, 4};
                case 64 -> new double[] {1, 2, 3, 4};
                default -> throw DiscoException.badInput(source + ": channel_mult: no default for image_size "
                        + imageSize + " (expected 64, 128, 256 or 512, or give channel_mult)");
            };
        }
        List<String> parts = new ArrayList<>();
        if (v.isTextual()) parts.addAll(Arrays.asList(v.asText().split(",")));
        else if (v.isArray()) v.forEach(x -> parts.add(x.asText()));
        else throw DiscoException.badInput(source + ": channel_mult: expected \"\" or a comma list such as \"1,2,3,4\"");
        double[] out = new double[parts.size()];
        for (int i = 0; i < out.length; i++) {
            try {
                out[i] = Double.parseDouble(parts.get(i).trim());
            } catch (NumberFormatException e) {
                throw DiscoException.badInput(source + ": channel_mult: expected numbers, got \"" + parts.get(i).trim() + "\"");
            }
            if (!(out[i] > 0)) throw DiscoException.badInput(source + ": channel_mult: expected positive multipliers");
        }
        if (out.length == 0) throw DiscoException.badInput(source + ": channel_mult: expected at least one level");
        return out;
    }

    private static int[] attentionDs(JsonNode v, int imageSize, String source) {
        List<String> parts = new ArrayList<>();
        if (v == null || v.isNull()) parts.add("16"); // create_model's default
        else if (v.isTextual()) {
            if (!v.asText().isBlank()) parts.addAll(Arrays.asList(v.asText().split(",")));
        } else if (v.isArray()) v.forEach(x -> parts.add(x.asText()));
        else if (v.isInt()) parts.add(v.asText());
        else throw DiscoException.badInput(source + ": attention_resolutions: expected a comma list such as \"32,16,8\"");
        int[] out = new int[parts.size()];
        for (int i = 0; i < out.length; i++) {
            int res;
            try {
                res = Integer.parseInt(parts.get(i).trim());
            } catch (NumberFormatException e) {
                throw DiscoException.badInput(source + ": attention_resolutions: expected integers, got \""
                        + parts.get(i).trim() + "\"");
            }
            if (res <= 0) throw DiscoException.badInput(source + ": attention_resolutions: expected positive resolutions");
            out[i] = imageSize / res;
        }
        return out;
    }

    private static int intKey(JsonNode n, String source, String key, Integer dflt) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            if (dflt == null) throw DiscoException.badInput(source + ": " + key + ": missing (expected an integer)");
            return dflt;
        }
        if (v.isIntegralNumber() && v.canConvertToInt()) return v.asInt();
        if (v.isTextual()) {
            try {
                return Integer.parseInt(v.asText().trim());
            } catch (NumberFormatException ignored) {
                // fall through
            }
        }
        throw DiscoException.badInput(source + ": " + key + ": expected an integer, got " + v);
    }

    private static boolean boolKey(JsonNode n, String source, String key, boolean dflt) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return dflt;
        if (v.isBoolean()) return v.asBoolean();
        throw DiscoException.badInput(source + ": " + key + ": expected true or false, got " + v);
    }

    private static double doubleKey(JsonNode n, String source, String key, double dflt) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return dflt;
        if (v.isNumber()) return v.asDouble();
        throw DiscoException.badInput(source + ": " + key + ": expected a number, got " + v);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UNetConfig c && imageSize == c.imageSize && numChannels == c.numChannels
                && numResBlocks == c.numResBlocks && Arrays.equals(channelMult, c.channelMult)
                && Arrays.equals(attentionDs, c.attentionDs) && numHeads == c.numHeads
                && numHeadChannels == c.numHeadChannels && numHeadsUpsample == c.numHeadsUpsample
                && useScaleShiftNorm == c.useScaleShiftNorm && resblockUpdown == c.resblockUpdown
                && learnSigma == c.learnSigma && useNewAttentionOrder == c.useNewAttentionOrder
                && useFp16 == c.useFp16 && dropout == c.dropout;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(channelMult) * 31 + Arrays.hashCode(attentionDs) * 17 + imageSize * 7 + numChannels;
    }

    @Override
    public String toString() {
        return "UNetConfig[image_size=" + imageSize + ", num_channels=" + numChannels + ", num_res_blocks="
                + numResBlocks + ", channel_mult=" + Arrays.toString(channelMult) + ", attention_ds="
                + Arrays.toString(attentionDs) + ", num_heads=" + numHeads + ", num_head_channels=" + numHeadChannels
                + ", num_heads_upsample=" + numHeadsUpsample + ", use_scale_shift_norm=" + useScaleShiftNorm
                + ", resblock_updown=" + resblockUpdown + ", learn_sigma=" + learnSigma
                + ", use_new_attention_order=" + useNewAttentionOrder + "]";
    }
}
