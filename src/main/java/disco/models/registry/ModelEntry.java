package disco.models.registry;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One model file of the registry.
 *
 * @param name       canonical name (DD's diffusion model name, OpenAI's CLIP name such as {@code ViT-L/14})
 * @param kind       {@link #DIFFUSION}, {@link #SECONDARY}, {@link #CLIP} or {@link #VOCAB}
 * @param file       file name inside the model directory (DD's and clip.load's local names)
 * @param path       for a custom model: where the file is (absolute); null for registry files in the model directory
 * @param sha256     published sha256 (64 lowercase hex digits) or null when no source publishes one
 * @param sha256Prefix where only the leading hex digits of the sha256 are published (open_clip's release file names
 *                   end in the first 8, which open_clip itself checks): those digits; null otherwise
 * @param size       published size in bytes or null
 * @param urls       download locations, tried in order (empty for a custom model)
 * @param configName name of the shared config in the registry's {@code configs}, or null
 * @param config     guided-diffusion {@code create_model} arguments (diffusion models), or null
 * @param diffusion  diffusion arguments DD uses with the model ({@code diffusion_steps}, ...), or null
 * @param architecture name of the state-dict manifest in {@code fixtures/architectures/} this file matches, or null
 * @param aliases    other exact names that find this entry
 * @param source     where the entry's facts come from
 * @param note       free text, or null
 */
public record ModelEntry(String name, String kind, String file, Path path, String sha256, String sha256Prefix, Long size,
                         List<ModelSource> urls, String configName, Map<String, Object> config,
                         Map<String, Object> diffusion, String architecture, List<String> aliases,
                         String source, String note) {
    public static final String DIFFUSION = "diffusion";
    public static final String SECONDARY = "secondary";
    public static final String CLIP = "clip";
    public static final String VOCAB = "vocab";
    /** An open_clip checkpoint; its {@code config} is the open_clip model config. */
    public static final String OPENCLIP = "openclip";
    /** A part of DD's LPIPS (torchvision's vgg16 trunk, LPIPS's linear heads). */
    public static final String LPIPS = "lpips";

    public ModelEntry {
        urls = List.copyOf(urls);
        aliases = List.copyOf(aliases);
        config = config == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(config));
        diffusion = diffusion == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(diffusion));
    }

    /** A custom diffusion model: a file anywhere plus its {@code create_model} config; nothing to download. */
    public static ModelEntry custom(String name, Path file, Map<String, Object> config) {
        Path abs = file.toAbsolutePath().normalize();
        return new ModelEntry(name, DIFFUSION, abs.getFileName().toString(), abs, null, null, null, List.of(), null,
                config, null, null, List.of(), "custom: " + abs, null);
    }

    /** Whether a sha256 (whole, or its published leading digits) can check the file. */
    public boolean hasPublishedHash() {
        return sha256 != null || sha256Prefix != null;
    }

    /** Whether a file's sha256 matches what is published (the whole hash, or its published leading digits). */
    public boolean hashMatches(String sha) {
        if (sha256 != null) return sha256.equals(sha);
        return sha256Prefix != null && sha != null && sha.startsWith(sha256Prefix);
    }

    /** The published hash as text: the sha256, or its leading digits followed by "…". */
    public String publishedHash() {
        return sha256 != null ? sha256 : sha256Prefix != null ? sha256Prefix + "…" : null;
    }

    /** True for a model that lives at its own path instead of the model directory (never downloaded). */
    public boolean isCustom() {
        return path != null;
    }

    /** Where this file is (or would be) for the given model directory. */
    public Path location(Path modelDir) {
        return path != null ? path : modelDir.resolve(file);
    }
}
