package disco.models.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.util.DiscoException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The model registry: {@code models/registry.json} (shipped in the jar as {@value #RESOURCE}) or a registry file
 * given by the user. Lookup is by exact canonical name or one of an entry's aliases; fuzzy name resolution
 * (settings spellings) belongs to the settings layer.
 */
public final class Registry {
    public static final String RESOURCE = "/disco/models/registry.json";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern SHA256_PREFIX = Pattern.compile("[0-9a-f]{8,63}");
    private static final Set<String> KINDS = Set.of(ModelEntry.DIFFUSION, ModelEntry.SECONDARY, ModelEntry.CLIP, ModelEntry.VOCAB,
            ModelEntry.OPENCLIP, ModelEntry.LPIPS);
    private static final Set<String> ENTRY_KEYS = Set.of("name", "kind", "file", "path", "sha256", "sha256_prefix", "size", "urls", "config",
            "diffusion", "architecture", "aliases", "source", "note");

    private final String origin;
    private final List<ModelEntry> entries;
    private final Map<String, ModelEntry> byName;
    private final Map<String, Map<String, Object>> configs;
    private final List<String> defaults;

    private Registry(String origin, List<ModelEntry> entries, Map<String, Map<String, Object>> configs, List<String> defaults) {
        this.origin = origin;
        this.entries = List.copyOf(entries);
        this.configs = Collections.unmodifiableMap(configs);
        Map<String, ModelEntry> m = new LinkedHashMap<>();
        for (ModelEntry e : entries) {
            for (String key : names(e)) {
                ModelEntry prev = m.putIfAbsent(key, e);
                if (prev != null) {
                    throw DiscoException.badInput(origin + ": models: name or alias '" + key + "' is used by both "
                            + prev.name() + " and " + e.name() + " (expected unique names)");
                }
            }
        }
        this.byName = m;
        for (String d : defaults) {
            if (!m.containsKey(d)) throw DiscoException.badInput(origin + ": defaults: '" + d + "' is not a model of the registry");
        }
        this.defaults = List.copyOf(defaults);
    }

    private static List<String> names(ModelEntry e) {
        List<String> n = new ArrayList<>();
        n.add(e.name());
        n.addAll(e.aliases());
        return n;
    }

    /** The registry shipped with disco. */
    public static Registry builtin() {
        try (InputStream in = Registry.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException("registry resource " + RESOURCE + " is missing from the classpath");
            return parse(in.readAllBytes(), "registry.json (built in)", null);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + RESOURCE, e);
        }
    }

    /** A registry file; relative custom {@code path}s are resolved against the file's directory. */
    public static Registry load(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw DiscoException.badInput(file + ": registry file not found", e);
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read registry (" + e.getMessage() + ")", e);
        }
        Path dir = file.toAbsolutePath().getParent();
        return parse(bytes, file.toString(), dir);
    }

    /** The given registry file, or the built-in one when {@code file} is null. */
    public static Registry loadOrBuiltin(Path file) {
        return file == null ? builtin() : load(file);
    }

    static Registry parse(byte[] bytes, String origin, Path baseDir) {
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw DiscoException.badInput(origin + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw DiscoException.badInput(origin + ": cannot parse (" + e.getMessage() + ")", e);
        }
        if (root == null || !root.isObject()) throw DiscoException.badInput(origin + ": expected a JSON object");
        JsonNode format = root.get("format");
        if (format == null || !format.isInt() || format.intValue() != 1) {
            throw DiscoException.badInput(origin + ": format: expected 1");
        }
        Map<String, Map<String, Object>> configs = new LinkedHashMap<>();
        JsonNode cfgs = root.get("configs");
        if (cfgs != null) {
            if (!cfgs.isObject()) throw DiscoException.badInput(origin + ": configs: expected an object of named configs");
            for (Iterator<Map.Entry<String, JsonNode>> it = cfgs.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                configs.put(f.getKey(), toMap(f.getValue(), origin + ": configs." + f.getKey()));
            }
        }
        Map<String, Map<String, Object>> openClipConfigs = new LinkedHashMap<>();
        JsonNode occ = root.get("openclip_configs");
        if (occ != null) {
            if (!occ.isObject()) throw DiscoException.badInput(origin + ": openclip_configs: expected an object of named open_clip model configs");
            for (Iterator<Map.Entry<String, JsonNode>> it = occ.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                openClipConfigs.put(f.getKey(), toMap(f.getValue(), origin + ": openclip_configs." + f.getKey()));
            }
        }
        JsonNode models = root.get("models");
        if (models == null || !models.isArray()) throw DiscoException.badInput(origin + ": models: expected an array");
        List<ModelEntry> entries = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            entries.add(entry(models.get(i), origin + ": models[" + i + "]", configs, openClipConfigs, baseDir));
        }
        List<String> defaults = new ArrayList<>();
        JsonNode defs = root.get("defaults");
        if (defs != null) {
            if (!defs.isArray()) throw DiscoException.badInput(origin + ": defaults: expected an array of model names");
            for (JsonNode d : defs) {
                if (!d.isTextual()) throw DiscoException.badInput(origin + ": defaults: expected an array of model names");
                defaults.add(d.textValue());
            }
        }
        return new Registry(origin, entries, configs, defaults);
    }

    private static ModelEntry entry(JsonNode n, String where, Map<String, Map<String, Object>> diffusionConfigs,
                                    Map<String, Map<String, Object>> openClipConfigs, Path baseDir) {
        if (!n.isObject()) throw DiscoException.badInput(where + ": expected an object");
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!ENTRY_KEYS.contains(k)) throw DiscoException.badInput(where + ": unknown key '" + k + "' (expected one of " + new java.util.TreeSet<>(ENTRY_KEYS) + ")");
        }
        String name = text(n, "name", where, true);
        where = where + " (" + name + ")";
        String kind = text(n, "kind", where, true);
        if (!KINDS.contains(kind)) throw DiscoException.badInput(where + ": kind: expected one of " + new java.util.TreeSet<>(KINDS) + ", got '" + kind + "'");
        String pathText = text(n, "path", where, false);
        Path path = null;
        if (pathText != null) {
            Path p = Path.of(pathText);
            if (!p.isAbsolute()) p = (baseDir != null ? baseDir : Path.of("")).resolve(p);
            path = p.toAbsolutePath().normalize();
        }
        String file = text(n, "file", where, path == null);
        if (file == null) file = path.getFileName().toString();
        if (file.isEmpty() || file.contains("/") || file.contains("\\") || file.equals(".") || file.equals("..") || file.startsWith(".")) {
            throw DiscoException.badInput(where + ": file: expected a plain file name, got '" + file + "'");
        }
        String sha = text(n, "sha256", where, false);
        if (sha != null && !SHA256.matcher(sha).matches()) {
            throw DiscoException.badInput(where + ": sha256: expected 64 lowercase hex digits or null, got '" + sha + "'");
        }
        String prefix = text(n, "sha256_prefix", where, false);
        if (prefix != null && (sha != null || !SHA256_PREFIX.matcher(prefix).matches())) {
            throw DiscoException.badInput(where + ": sha256_prefix: expected 8 to 63 lowercase hex digits (and no sha256), got '" + prefix + "'");
        }
        Map<String, Map<String, Object>> configs = kind.equals(ModelEntry.OPENCLIP) ? openClipConfigs : diffusionConfigs;
        Long size = null;
        JsonNode s = n.get("size");
        if (s != null && !s.isNull()) {
            if (!s.canConvertToLong() || !s.isIntegralNumber() || s.longValue() < 0) {
                throw DiscoException.badInput(where + ": size: expected a byte count or null, got " + s);
            }
            size = s.longValue();
        }
        List<ModelSource> urls = new ArrayList<>();
        JsonNode u = n.get("urls");
        if (u != null && !u.isNull()) {
            if (!u.isArray()) throw DiscoException.badInput(where + ": urls: expected an array");
            for (int i = 0; i < u.size(); i++) {
                JsonNode x = u.get(i);
                String url;
                String src = null;
                if (x.isTextual()) {
                    url = x.textValue();
                } else if (x.isObject()) {
                    url = text(x, "url", where + ": urls[" + i + "]", true);
                    src = text(x, "source", where + ": urls[" + i + "]", false);
                } else {
                    throw DiscoException.badInput(where + ": urls[" + i + "]: expected a URL string or {url, source}");
                }
                if (!(url.startsWith("http://") || url.startsWith("https://"))) {
                    throw DiscoException.badInput(where + ": urls[" + i + "]: expected an http(s) URL, got '" + url + "'");
                }
                urls.add(new ModelSource(url, src));
            }
        }
        if (urls.isEmpty() && path == null) {
            throw DiscoException.badInput(where + ": urls: expected at least one download URL (or a 'path' for a custom model)");
        }
        String configName = null;
        Map<String, Object> config = null;
        JsonNode c = n.get("config");
        if (c != null && !c.isNull()) {
            if (c.isTextual()) {
                configName = c.textValue();
                config = configs.get(configName);
                if (config == null) throw DiscoException.badInput(where + ": config: '" + configName + "' is not in configs (known: " + configs.keySet() + ")");
            } else if (c.isObject()) {
                config = toMap(c, where + ": config");
            } else {
                throw DiscoException.badInput(where + ": config: expected a config name or an object");
            }
        }
        if (kind.equals(ModelEntry.DIFFUSION) && config == null) {
            throw DiscoException.badInput(where + ": config: a diffusion model needs its create_model config");
        }
        if (kind.equals(ModelEntry.OPENCLIP) && config == null) {
            throw DiscoException.badInput(where + ": config: an open_clip model needs its model config (a name of openclip_configs or an object)");
        }
        JsonNode d = n.get("diffusion");
        Map<String, Object> diffusion = d == null || d.isNull() ? null : toMap(d, where + ": diffusion");
        List<String> aliases = new ArrayList<>();
        JsonNode a = n.get("aliases");
        if (a != null && !a.isNull()) {
            if (!a.isArray()) throw DiscoException.badInput(where + ": aliases: expected an array of names");
            for (JsonNode x : a) {
                if (!x.isTextual() || x.textValue().isEmpty()) throw DiscoException.badInput(where + ": aliases: expected an array of names");
                aliases.add(x.textValue());
            }
        }
        return new ModelEntry(name, kind, file, path, sha, prefix, size, urls, configName, config, diffusion,
                text(n, "architecture", where, false), aliases, text(n, "source", where, path == null), text(n, "note", where, false));
    }

    private static String text(JsonNode n, String key, String where, boolean required) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            if (required) throw DiscoException.badInput(where + ": " + key + ": expected a string, missing");
            return null;
        }
        if (!v.isTextual()) throw DiscoException.badInput(where + ": " + key + ": expected a string, got " + v);
        if (required && v.textValue().isEmpty()) throw DiscoException.badInput(where + ": " + key + ": expected a non-empty string");
        return v.textValue();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> toMap(JsonNode n, String where) {
        if (!n.isObject()) throw DiscoException.badInput(where + ": expected an object");
        return JSON.convertValue((ObjectNode) n, LinkedHashMap.class);
    }

    /** Where this registry was read from (for messages). */
    public String origin() {
        return origin;
    }

    public List<ModelEntry> entries() {
        return entries;
    }

    /** The entry with this canonical name or alias (exact match). */
    public Optional<ModelEntry> find(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** Like {@link #find} but a missing name is bad input naming the known models. */
    public ModelEntry require(String name) {
        ModelEntry e = byName.get(name);
        if (e == null) {
            // the OpenCLIP entries are many: counted, `disco models list` shows them
            List<String> known = entries.stream().filter(x -> !x.kind().equals(ModelEntry.OPENCLIP)).map(ModelEntry::name)
                    .toList();
            long openClip = entries.stream().filter(x -> x.kind().equals(ModelEntry.OPENCLIP)).count();
            String shown = name.length() > 80 ? name.substring(0, 77) + "..." : name;
            throw DiscoException.badInput(origin + ": no model named '" + shown + "' (known: " + String.join(", ", known)
                    + (openClip > 0 ? ", and " + openClip + " OpenCLIP models: disco models list" : "") + ")");
        }
        return e;
    }

    /** Named {@code create_model} configs shared by entries (keys as in {@code fixtures/architectures/*.config.json}). */
    public Map<String, Map<String, Object>> configs() {
        return configs;
    }

    /** The models DD's default settings use. */
    public List<ModelEntry> defaults() {
        return defaults.stream().map(byName::get).toList();
    }
}
