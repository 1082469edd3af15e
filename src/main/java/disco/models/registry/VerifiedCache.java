package disco.models.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A sidecar of hashes already computed, {@value #FILE} in the model directory: file name → (size, mtime, sha256).
 * An entry counts only while the file's size and modification time are unchanged, so {@code disco models list}
 * can say "verified" without reading gigabytes; {@code disco models verify} always re-hashes and refreshes it.
 * A missing or unreadable sidecar is simply empty (it is a cache, never a source of truth).
 */
public final class VerifiedCache {
    public static final String FILE = ".disco-verified.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    record Item(long size, long mtimeMillis, String sha256) {}

    private final Path file;
    private final Map<String, Item> items = new TreeMap<>();

    private VerifiedCache(Path file) {
        this.file = file;
    }

    public static VerifiedCache open(Path modelDir) {
        VerifiedCache c = new VerifiedCache(modelDir.resolve(FILE));
        if (Files.isRegularFile(c.file)) {
            try {
                JsonNode root = JSON.readTree(c.file.toFile());
                for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> f = it.next();
                    JsonNode v = f.getValue();
                    if (v.path("size").isIntegralNumber() && v.path("mtime_ms").isIntegralNumber() && v.path("sha256").isTextual()) {
                        c.items.put(f.getKey(), new Item(v.get("size").longValue(), v.get("mtime_ms").longValue(), v.get("sha256").textValue()));
                    }
                }
            } catch (IOException | RuntimeException e) {
                c.items.clear();
            }
        }
        return c;
    }

    private static String key(Path p) {
        return p.toAbsolutePath().normalize().toString();
    }

    /** The sha256 recorded for this file, if its size and mtime still match. */
    public synchronized Optional<String> lookup(Path p) {
        Item it = items.get(key(p));
        if (it == null) return Optional.empty();
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (a.isRegularFile() && a.size() == it.size() && a.lastModifiedTime().toMillis() == it.mtimeMillis()) {
                return Optional.of(it.sha256());
            }
        } catch (IOException e) {
            // gone or unreadable: no longer cached
        }
        return Optional.empty();
    }

    /** Records the hash just computed for this file (with its current size and mtime) and saves the sidecar. */
    public synchronized void record(Path p, String sha256) throws IOException {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
        items.put(key(p), new Item(a.size(), a.lastModifiedTime().toMillis(), sha256));
        save();
    }

    public synchronized void forget(Path p) throws IOException {
        if (items.remove(key(p)) != null) save();
    }

    private void save() throws IOException {
        ObjectNode root = JSON.createObjectNode();
        for (Map.Entry<String, Item> e : items.entrySet()) {
            ObjectNode v = root.putObject(e.getKey());
            v.put("size", e.getValue().size());
            v.put("mtime_ms", e.getValue().mtimeMillis());
            v.put("sha256", e.getValue().sha256());
        }
        AtomicFiles.writeBytes(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    }
}
