package disco.settings;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A CLIP model as the user named it in {@code clip_models}, and the one canonical name the engine uses.
 * DD's names ({@code ViT-L/14}, {@code RN50x4}), DiscoArt's ({@code ViT-L-14::openai}) and DD's settings flags
 * ({@code ViTL14}) name the same OpenAI model; {@code RN-tiny} / {@code ViT-tiny} are the built-in demo models; a path
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
    /** The demo models (tiny random CLIPs in the real format). */
    public static final List<String> DEMO = List.of("RN-tiny", "ViT-tiny");

    private static final Map<String, String> ALIASES = buildAliases();

    public static ClipModelName resolve(String written) {
        if (written == null || written.isBlank()) {
            throw new IllegalArgumentException("a CLIP model name is empty; known names: " + knownNames());
        }
        String key = written.strip();
        String canonical = ALIASES.get(key.toLowerCase(Locale.ROOT));
        if (canonical != null) return new ClipModelName(written, canonical, false);
        String lower = key.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".pt") || lower.endsWith(".pth") || isFile(key)) return new ClipModelName(written, key, true);
        throw new IllegalArgumentException("unknown CLIP model '" + written + "'; known names: " + knownNames()
                + " (or a path to a .pt checkpoint)");
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
        for (String d : DEMO) m.put(d.toLowerCase(Locale.ROOT), d);
        return m;
    }

    private static Map<String, String> orderedMap(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return java.util.Collections.unmodifiableMap(m);
    }
}
