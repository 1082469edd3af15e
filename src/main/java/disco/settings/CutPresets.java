package disco.settings;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Preset cut schedules: DiscoArt's {@code cut_schedules_group} (its {@code resources/cut-schedules.yml}, version
 * 0.12.2) and the presets DD's notebook switches to for KaliYuga's fine-tuned diffusion models (DD v5.7's disco.py: pixel-art
 * and PulpSciFi models get {@code pad_or_pulp_cut_*}, the watercolor models {@code watercolor_cut_*}; the values are
 * the same as DiscoArt's groups of those names).
 */
public final class CutPresets {
    private CutPresets() {}

    private static final String PAD_OR_PULP = "pad_or_pulp";
    private static final String WATERCOLOR = "watercolor";

    /** DiscoArt's groups: group → settings key → value as DiscoArt's YAML gives it. */
    public static final Map<String, Map<String, Object>> GROUPS;

    static {
        Map<String, Map<String, Object>> g = new LinkedHashMap<>();
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("cut_overview", "[12]*400+[4]*600");
        d.put("cut_innercut", "[4]*400+[12]*600");
        d.put("cut_ic_pow", "[1]*1000");
        d.put("cut_icgray_p", "[0.2]*400+[0]*600");
        g.put("default", d);
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("cut_overview", "[15]*100+[15]*100+[12]*100+[12]*100+[6]*100+[4]*100+[2]*200+[0]*200");
        p.put("cut_innercut", "[1]*100+[1]*100+[4]*100+[4]*100+[8]*100+[8]*100+[10]*200+[10]*200");
        p.put("cut_ic_pow", "[12]*300+[12]*100+[12]*50+[12]*50+[10]*100+[10]*100+[10]*300");
        p.put("cut_icgray_p", "[0.87]*100+[0.78]*50+[0.73]*50+[0.64]*60+[0.56]*40+[0.50]*50+[0.33]*100+[0.19]*150+[0]*400");
        g.put(PAD_OR_PULP, p);
        Map<String, Object> w = new LinkedHashMap<>();
        w.put("cut_overview", "[14]*200+[12]*200+[4]*400+[0]*200");
        w.put("cut_innercut", "[2]*200+[4]*200+[12]*400+[12]*200");
        w.put("cut_ic_pow", "[12]*300+[12]*100+[12]*50+[12]*50+[10]*100+[10]*100+[10]*300");
        w.put("cut_icgray_p", "[0.7]*100+[0.6]*100+[0.45]*100+[0.3]*100+[0]*600");
        g.put(WATERCOLOR, w);
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("cut_ic_pow", "[0]*200+[10]*200+[10]*200+[60]*200+[80]*200");
        h.put("cut_icgray_p", "[0.5]*100+[0.4]*100+[0.2]*100+[0.1]*100+[0]*600");
        h.put("cut_innercut", "[0]*200+[2]*200+[4]*200+[6]*200+[10]*200");
        h.put("cut_overview", "[8]*200+[6]*200+[4]*200+[0]*200+[0]*200");
        h.put("tv_scale", 60000L);
        h.put("sat_scale", 10000L);
        h.put("range_scale", 10000L);
        h.put("cutn_batches", 8L);
        h.put("clip_models", List.of("ViT-B-32::openai", "ViT-B-16::openai", "ViT-L-14::openai", "RN101::openai",
                "RN50::openai"));
        h.put("clip_guidance_scale", 12000L);
        h.put("clamp_max", 0.1);
        g.put("han_fav", h);
        GROUPS = java.util.Collections.unmodifiableMap(g);
    }

    /** DD's {@code kaliyuga_pixel_art_model_names} and {@code kaliyuga_pulpscifi_model_names}. */
    public static final List<String> PAD_OR_PULP_MODELS = List.of("pixelartdiffusion_expanded",
            "pixel_art_diffusion_hard_256", "pixel_art_diffusion_soft_256", "pixelartdiffusion4k", "PulpSciFiDiffusion");
    /** DD's {@code kaliyuga_watercolor_model_names}. */
    public static final List<String> WATERCOLOR_MODELS = List.of("watercolordiffusion", "watercolordiffusion_2");

    /** The group DD switches to for a diffusion model ({@code pad_or_pulp}, {@code watercolor}), or null. */
    public static String forDiffusionModel(String diffusionModel) {
        if (PAD_OR_PULP_MODELS.contains(diffusionModel)) return PAD_OR_PULP;
        if (WATERCOLOR_MODELS.contains(diffusionModel)) return WATERCOLOR;
        return null;
    }

    /** A group's values, or an {@link IllegalArgumentException} naming the known groups. */
    public static Map<String, Object> group(String name) {
        Map<String, Object> g = GROUPS.get(name);
        if (g == null) {
            throw new IllegalArgumentException("expected one of " + GROUPS.keySet() + ", found '"
                    + ScheduleExpr.abbreviate(name) + "'");
        }
        return g;
    }
}
