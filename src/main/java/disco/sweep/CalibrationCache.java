package disco.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The calibrations of time estimates ({@link TimeEstimate}), cached per device, model set, size, batch and options
 * (everything that changes what a step costs) in one JSON file: {@code $DISCO_CALIBRATION_CACHE}, else
 * {@code $XDG_CACHE_HOME/disco/calibration.json}, else {@code ~/.cache/disco/calibration.json} (the system property
 * {@value #PROPERTY}, for in-process tests, wins over all).
 *
 * <p>The file: {@code {"version": 1, "entries": [{"key": {...}, "kind": "unet", "calibrated_at": ISO-8601,
 * "fixed_ms": ..., "ms_per_image": {model: ...}, "steps_timed": n}, ...]}}. An entry matches only the exact key
 * (a changed model, size, precision or device is a miss and is calibrated again). A file that cannot be read as such
 * is ignored with one warning and replaced at the next calibration; it is written atomically (temp name, rename).
 */
public final class CalibrationCache {
    public static final String ENV = "DISCO_CALIBRATION_CACHE";
    public static final String PROPERTY = "disco.calibration.cache";
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A cached kind's costs and when they were measured. */
    public record Entry(Map<String, Object> key, String kind, Instant calibratedAt, TimeEstimate.Costs costs) {}

    private final Path file;
    private final List<Entry> entries;

    private CalibrationCache(Path file, List<Entry> entries) {
        this.file = file;
        this.entries = entries;
    }

    /** The cache file's path for this environment. */
    public static Path defaultPath(Map<String, String> env, String home) {
        String e = env.get(ENV);
        if (e != null && !e.isBlank()) return Path.of(e).toAbsolutePath().normalize();
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "disco", "calibration.json");
        return Path.of(home, ".cache", "disco", "calibration.json");
    }

    public static Path defaultPath() {
        String p = System.getProperty(PROPERTY);
        if (p != null && !p.isBlank()) return Path.of(p).toAbsolutePath().normalize();
        return defaultPath(System.getenv(), System.getProperty("user.home"));
    }

    public Path file() {
        return file;
    }

    public List<Entry> entries() {
        return List.copyOf(entries);
    }

    /**
     * Reads the cache; a missing file is an empty cache; one that is not a calibration cache (bad JSON, another
     * version, a malformed entry) is an empty cache and one {@code warn} line naming it.
     */
    public static CalibrationCache read(Path file, Consumer<String> warn) {
        List<Entry> out = new ArrayList<>();
        if (!Files.exists(file)) return new CalibrationCache(file, out);
        try {
            JsonNode root = JSON.readTree(file.toFile());
            if (root == null || !root.isObject()) throw new IllegalArgumentException("expected a JSON object");
            if (root.path("version").asInt(-1) != VERSION) {
                throw new IllegalArgumentException("version: expected " + VERSION + ", found " + root.path("version"));
            }
            JsonNode es = root.path("entries");
            if (!es.isArray()) throw new IllegalArgumentException("entries: expected a list");
            for (int i = 0; i < es.size(); i++) out.add(entry(es.get(i), "entries[" + i + "]"));
        } catch (IOException | IllegalArgumentException | java.time.format.DateTimeParseException e) {
            String why = e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            warn.accept(file + ": not a calibration cache (" + why + "); ignored, it is rewritten at the next calibration");
            return new CalibrationCache(file, new ArrayList<>());
        }
        return new CalibrationCache(file, out);
    }

    private static Entry entry(JsonNode e, String where) {
        if (!e.path("key").isObject()) throw new IllegalArgumentException(where + ".key: expected an object");
        String kind = e.path("kind").asText("");
        if (!kind.equals(TimeEstimate.UNET) && !kind.equals(TimeEstimate.SECONDARY)) {
            throw new IllegalArgumentException(where + ".kind: expected unet or secondary");
        }
        double fixed = number(e.path("fixed_ms"), where + ".fixed_ms");
        Map<String, Double> per = new TreeMap<>();
        JsonNode p = e.path("ms_per_image");
        if (!p.isObject()) throw new IllegalArgumentException(where + ".ms_per_image: expected an object");
        p.fields().forEachRemaining(f -> per.put(f.getKey(), number(f.getValue(), where + ".ms_per_image." + f.getKey())));
        Instant at = Instant.parse(e.path("calibrated_at").asText(""));
        int steps = e.path("steps_timed").asInt(0);
        @SuppressWarnings("unchecked")
        Map<String, Object> key = JSON.convertValue(e.path("key"), TreeMap.class);
        return new Entry(key, kind, at, new TimeEstimate.Costs(fixed, per, steps));
    }

    private static double number(JsonNode n, String where) {
        if (!n.isNumber() || !Double.isFinite(n.asDouble()) || n.asDouble() < 0) {
            throw new IllegalArgumentException(where + ": expected a number >= 0");
        }
        return n.asDouble();
    }

    /** Canonical form of a key (nested maps sorted, numbers as JSON reads them back), for comparing. */
    static JsonNode canonical(Map<String, Object> key) {
        try {
            // through text, so that a key built in code and one read back from the file compare equal
            return JSON.readTree(JSON.copy().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).writeValueAsString(key));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("calibration key: " + e.getOriginalMessage(), e);
        }
    }

    /** The entry of {@code key} and {@code kind}, or null. */
    public Entry get(Map<String, Object> key, String kind) {
        JsonNode k = canonical(key);
        for (Entry e : entries) if (e.kind().equals(kind) && canonical(e.key()).equals(k)) return e;
        return null;
    }

    /** The calibration of {@code key} for every kind of {@code kinds}, or null when one is not cached. */
    public TimeEstimate.Calibration calibration(Map<String, Object> key, List<String> kinds) {
        Map<String, TimeEstimate.Costs> m = new LinkedHashMap<>();
        Instant oldest = null;
        for (String kind : kinds) {
            Entry e = get(key, kind);
            if (e == null) return null;
            m.put(kind, e.costs());
            if (oldest == null || e.calibratedAt().isBefore(oldest)) oldest = e.calibratedAt();
        }
        return new TimeEstimate.Calibration(m, "cached from " + date(oldest) + " in " + file);
    }

    /** {@code 2026-12-02 00:44 UTC} */
    static String date(Instant t) {
        return t == null ? "?" : java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'")
                .withZone(java.time.ZoneOffset.UTC).format(t);
    }

    /** Adds or replaces the entry of {@code key} and {@code kind}. */
    public void put(Map<String, Object> key, String kind, Instant at, TimeEstimate.Costs costs) {
        JsonNode k = canonical(key);
        entries.removeIf(e -> e.kind().equals(kind) && canonical(e.key()).equals(k));
        entries.add(new Entry(new TreeMap<>(key), kind, at, costs));
    }

    /** Writes the cache (creating its directory), atomically. */
    public void write() throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", VERSION);
        var arr = root.putArray("entries");
        for (Entry e : entries) {
            ObjectNode n = arr.addObject();
            n.set("key", canonical(e.key()));
            n.put("kind", e.kind());
            n.put("calibrated_at", e.calibratedAt().toString());
            n.put("fixed_ms", e.costs().fixedMs());
            ObjectNode per = n.putObject("ms_per_image");
            e.costs().msPerImage().forEach(per::put);
            n.put("steps_timed", e.costs().stepsTimed());
        }
        byte[] bytes = JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(root);
        AtomicFiles.writeBytes(file, bytes);
    }
}
