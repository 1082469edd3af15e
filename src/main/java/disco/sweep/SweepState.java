package disco.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.util.AtomicFiles;
import disco.util.DiscoException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The sweep's state file ({@code sweep.json}, or {@code sweep.shard-I-of-N.json} for a shard), rewritten atomically
 * after every finished trajectory: the definition's digest (a directory belongs to one sweep), the seed drawn for
 * the sweep when the settings leave it random, and per trajectory ({@code <run>#<batch>}) how many steps it has
 * finished and how ({@code done}: final image written; {@code stopped}: partial + checkpoint at {@code --stop-at};
 * {@code diverged}). A sweep killed at any moment restarts from this file: finished trajectories are not recomputed.
 */
public final class SweepState {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    public static final int FORMAT = 1;

    /** What one trajectory has finished. */
    public record Entry(String status, int steps, String checkpoint) {}

    private final Path file;
    private String digest;
    private Long seed;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private SweepState(Path file) {
        this.file = file;
    }

    /** The state file's name in the sweep directory. */
    public static String fileName(int shard, int shards) {
        return shards <= 1 ? "sweep.json" : "sweep.shard-" + shard + "-of-" + shards + ".json";
    }

    /** Reads the state file, or an empty state when there is none yet. */
    public static SweepState open(Path file) {
        SweepState s = new SweepState(file);
        if (!Files.exists(file)) return s;
        JsonNode n;
        try {
            n = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": not a readable sweep state (" + e.getMessage() + ")", e);
        }
        if (n == null || n.path("format").asInt(-1) != FORMAT) {
            throw DiscoException.badInput(file + ": format: expected a disco sweep state of format " + FORMAT);
        }
        s.digest = n.path("digest").asText(null);
        s.seed = n.hasNonNull("seed") ? n.get("seed").asLong() : null;
        n.path("trajectories").fields().forEachRemaining(e -> s.entries.put(e.getKey(), new Entry(
                e.getValue().path("status").asText(), e.getValue().path("steps").asInt(),
                e.getValue().path("checkpoint").asText(null))));
        return s;
    }

    public Path file() {
        return file;
    }

    public String digest() {
        return digest;
    }

    public Long seed() {
        return seed;
    }

    public Map<String, Entry> entries() {
        return java.util.Collections.unmodifiableMap(entries);
    }

    public Entry entry(String trajectory) {
        return entries.get(trajectory);
    }

    /** Binds the state to a sweep (first start) or checks that it belongs to it (restart). */
    public void bind(String digest, Long seed) {
        if (this.digest != null && !this.digest.equals(digest)) {
            throw DiscoException.badInput(file + ": digest: this directory holds another sweep (" + this.digest
                    + ", this one is " + digest + "); use another --out");
        }
        this.digest = digest;
        this.seed = seed;
        write();
    }

    public void put(String trajectory, Entry e) {
        entries.put(trajectory, e);
        write();
    }

    private void write() {
        ObjectNode n = JSON.createObjectNode();
        n.put("format", FORMAT);
        n.put("kind", "disco-sweep-state");
        n.put("digest", digest);
        if (seed == null) n.putNull("seed");
        else n.put("seed", seed);
        ObjectNode ts = n.putObject("trajectories");
        entries.forEach((k, v) -> {
            ObjectNode o = ts.putObject(k);
            o.put("status", v.status());
            o.put("steps", v.steps());
            if (v.checkpoint() != null) o.put("checkpoint", v.checkpoint());
        });
        try {
            AtomicFiles.writeString(file, JSON.writeValueAsString(n) + "\n");
        } catch (IOException e) {
            throw new DiscoException(disco.util.ExitCodes.IO_ERROR, file + ": cannot write (" + e.getMessage() + ")", e);
        }
    }
}
