package disco.settings;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A CLIP model as the user named it in {@code clip_models}, and the one canonical name the engine uses.
 * DD's names ({@code ViT-L/14}, {@code RN50x4}), DiscoArt's ({@code ViT-L-14::openai}) and DD's settings flags
 * ({@code ViTL14}) name the same OpenAI model; OpenCLIP models are named DiscoArt's way ({@code ViT-B-32::laion2b_e16},
 * canonical), by DD's flags ({@code ViTB32_laion2b_e16}) or as DD's {@code (name, tag)} pair; {@code RN-tiny} / {@code ViT-tiny} are the built-in demo models; a path
 * to a checkpoint file (ending in {@code .pt}/{@code .pth}, or an existing file) is also valid and is its own
 * canonical name.
 *
 * @param written   the entry as written in clip_models (what output {@code active} lists show)
 * @param canonical OpenAI's name ({@code ViT-L/14}), a demo name, or the path as written
 * @param isPath    true when the entry names a checkpoint file
 */
public record ClipModelName(String written, String canonical, boolean isPath) {
    /** The OpenAI models, canonical name to DD settings flag, in the order DD loads them. */
    public static final Map<String, String> OPENAI = orderedMap(
            "ViT-B/32", "ViTB32",
            "ViT-B/16", "ViTB16",
            "ViT-L/14", "ViTL14",
            "ViT-L/14@336px", "ViTL14_336px",
            "RN50", "RN50",
            "RN50x4", "RN50x4",
            "RN50x16", "RN50x16",
            "RN50x64", "RN50x64",
            "RN101", "RN101");
    /**
     * The OpenCLIP models, canonical name ({@code <open_clip model>::<pretrained tag>}, DiscoArt's spelling) to DD's
     * settings flag (its own spelling: {@code ViTB32_laion400m_32}, {@code RN50_yffcc15m}), or "" for the models DD
     * does not offer (DiscoArt's {@code ViT-B-16-plus-240} and open_clip's ViT-L-14 LAION weights); DD's 13 in the
     * order DD loads them (after the OpenAI models). Every open_clip 1.3.0 (model, tag) pair other than OpenAI's.
     */
    public static final Map<String, String> OPEN_CLIP = orderedMap(
            "ViT-B-32::laion2b_e16", "ViTB32_laion2b_e16",
            "ViT-B-32::laion400m_e31", "ViTB32_laion400m_e31",
            "ViT-B-32::laion400m_e32", "ViTB32_laion400m_32",
            "ViT-B-32-quickgelu::laion400m_e31", "ViTB32quickgelu_laion400m_e31",
            "ViT-B-32-quickgelu::laion400m_e32", "ViTB32quickgelu_laion400m_e32",
            "ViT-B-16::laion400m_e31", "ViTB16_laion400m_e31",
            "ViT-B-16::laion400m_e32", "ViTB16_laion400m_e32",
            "RN50::yfcc15m", "RN50_yffcc15m",
            "RN50::cc12m", "RN50_cc12m",
            "RN50-quickgelu::yfcc15m", "RN50_quickgelu_yfcc15m",
            "RN50-quickgelu::cc12m", "RN50_quickgelu_cc12m",
            "RN101::yfcc15m", "RN101_yfcc15m",
            "RN101-quickgelu::yfcc15m", "RN101_quickgelu_yfcc15m",
            "ViT-B-16-plus-240::laion400m_e31", "",
            "ViT-B-16-plus-240::laion400m_e32", "",
            "ViT-L-14::laion400m_e31", "",
            "ViT-L-14::laion400m_e32", "");
    /**
     * open_clip's {@code -quickgelu} configs with {@code pretrained='openai'}: open_clip then loads OpenAI's own
     * file, so they are the OpenAI models (DiscoArt's {@code RN50-quickgelu::openai}, ...).
     */
    private static final Map<String, String> QUICKGELU_OPENAI = orderedMap(
            "RN50-quickgelu", "RN50", "RN101-quickgelu", "RN101", "ViT-B-32-quickgelu", "ViT-B/32");
    /** The demo models (tiny random CLIPs in the real format). */
    public static final List<String> DEMO = List.of("RN-tiny", "ViT-tiny");

    private static final Map<String, String> ALIASES = buildAliases();

    public static ClipModelName resolve(String written) {
        if (written == null || written.isBlank()) {
            throw new IllegalArgumentException("a CLIP model name is empty; known names: " + knownNames());
        }
        String key = written.strip();
        String canonical = ALIASES.get(key.toLowerCase(Locale.ROOT));
        if (canonical == null) {
            String pair = pairKey(key);
            if (pair != null) canonical = ALIASES.get(pair);
        }
        if (canonical != null) return new ClipModelName(written, canonical, false);
        String lower = key.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".pt") || lower.endsWith(".pth") || isFile(key)) return new ClipModelName(written, key, true);
        throw new IllegalArgumentException("unknown CLIP model '" + ScheduleExpr.abbreviate(written) + "'; known names: " + knownNames()
                + " (or a path to a .pt checkpoint)");
    }

    /** Whether the canonical name is an OpenCLIP model (a key of {@link #OPEN_CLIP}). */
    public boolean isOpenClip() {
        return OPEN_CLIP.containsKey(canonical);
    }

    /**
     * DD's {@code (name, tag)} pair as {@code create_model(name, pretrained=tag)} takes it, written
     * {@code ('ViT-B-32', 'laion2b_e16')}, {@code ViT-B-32, laion2b_e16} or open_clip's {@code ViT-B-32:laion2b_e16},
     * and DiscoArt's {@code ViT-B/32::laion2b_e16}: the lower-cased {@code model::tag} key, or null when the text is
     * not such a pair.
     */
    private static String pairKey(String key) {
        String k = key.strip();
        if ((k.startsWith("(") && k.endsWith(")")) || (k.startsWith("[") && k.endsWith("]"))) {
            k = k.substring(1, k.length() - 1);
        }
        String[] parts;
        if (k.contains("::")) parts = k.split("::", -1);
        else if (k.contains(",")) parts = k.split(",", -1);
        else if (k.contains(":")) parts = k.split(":", -1);
        else return null;
        if (parts.length != 2) return null;
        String model = unquote(parts[0]), tag = unquote(parts[1]);
        if (model.isEmpty() || tag.isEmpty()) return null;
        return (model.replace('/', '-') + "::" + tag).toLowerCase(Locale.ROOT);
    }

    private static String unquote(String s) {
        String t = s.strip();
        if (t.length() >= 2 && (t.charAt(0) == '\'' || t.charAt(0) == '"') && t.charAt(t.length() - 1) == t.charAt(0)) {
            t = t.substring(1, t.length() - 1).strip();
        }
        return t;
    }

    private static boolean isFile(String path) {
        try {
            return java.nio.file.Files.isRegularFile(java.nio.file.Path.of(path));
        } catch (java.nio.file.InvalidPathException e) {
            return false;
        }
    }

    /** Whether {@code name} resolves (a known name or a checkpoint path). */
    public static boolean isValid(String name) {
        try {
            resolve(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    public static String knownNames() {
        StringBuilder sb = new StringBuilder();
        for (String n : OPENAI.keySet()) sb.append(sb.length() == 0 ? "" : ", ").append(n);
        for (String n : DEMO) sb.append(", ").append(n);
        // the OpenCLIP (model, tag) pairs are many: named by example, listed by `disco models list`
        sb.append(", the ").append(OPEN_CLIP.size()).append(" OpenCLIP models of `disco models list` (")
                .append(OPEN_CLIP.keySet().iterator().next()).append(", ...)");
        return sb.toString();
    }

    private static Map<String, String> buildAliases() {
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : OPENAI.entrySet()) {
            String c = e.getKey();
            m.put(c.toLowerCase(Locale.ROOT), c);
            m.put(e.getValue().toLowerCase(Locale.ROOT), c); // DD flag: ViTL14
            // DiscoArt / open_clip spelling: ViT-L-14::openai, ViT-L-14-336::openai, RN50x4::openai
            String oc = c.replace("/", "-").replace("@336px", "-336");
            m.put(oc.toLowerCase(Locale.ROOT), c);
            m.put((oc + "::openai").toLowerCase(Locale.ROOT), c);
            m.put((c + "::openai").toLowerCase(Locale.ROOT), c);
        }
        for (Map.Entry<String, String> e : OPEN_CLIP.entrySet()) {
            String c = e.getKey();
            m.put(c.toLowerCase(Locale.ROOT), c);
            if (!e.getValue().isEmpty()) m.put(e.getValue().toLowerCase(Locale.ROOT), c); // DD flag: RN50_yffcc15m
        }
        QUICKGELU_OPENAI.forEach((oc, c) -> m.put((oc + "::openai").toLowerCase(Locale.ROOT), c));
        for (String d : DEMO) m.put(d.toLowerCase(Locale.ROOT), d);
        return m;
    }

    private static Map<String, String> orderedMap(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return java.util.Collections.unmodifiableMap(m);
    }
}
