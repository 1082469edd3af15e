package disco.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The per-step log: one JSON object per executed step per line, ordered by batch and step. The whole file is
 * rewritten atomically after each step (it is small), so a reader never sees half a line and a resumed run continues
 * the same file. (A sweep continuing previews of several batches appends batch 0's later steps after batch 1's first
 * ones arrived; the order by (batch, step) is kept.)
 */
public final class StepLog {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One executed step.
     *
     * @param batch batch number {@code i}
     * @param step executed step {@code j} (0 = first)
     * @param index respaced index ({@code cur_t})
     * @param t the timestep fed to the model, on the 1000-step scale
     * @param active CLIP models active at this step (as written in clip_models)
     * @param losses DD's loss values per model: one per cutn batch, summed over the batch's images
     * @param rmsBefore gradient RMS before the clamp (NaN when there was no guidance or the NaN guard fired)
     * @param rmsAfter gradient RMS after the clamp
     * @param nanGuarded whether DD's NaN guard zeroed the gradient at this step
     * @param ms wall time of the step in milliseconds
     */
    public record Entry(int batch, int step, int index, double t, List<String> active, Map<String, List<Double>> losses,
                        double rmsBefore, double rmsAfter, boolean nanGuarded, double ms) {
        ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("batch", batch);
            o.put("step", step);
            o.put("index", index);
            o.put("t", t);
            ArrayNode a = o.putArray("active");
            active.forEach(a::add);
            ObjectNode l = o.putObject("loss");
            for (Map.Entry<String, List<Double>> e : losses.entrySet()) {
                ArrayNode v = l.putArray(e.getKey());
                for (double d : e.getValue()) putNumber(v, d);
            }
            putNumber(o, "grad_rms_before_clamp", rmsBefore);
            putNumber(o, "grad_rms_after_clamp", rmsAfter);
            o.put("nan_guarded", nanGuarded);
            o.put("ms", Math.round(ms * 1000) / 1000.0);
            return o;
        }
    }

    private static void putNumber(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) o.put(key, v);
        else o.putNull(key);
    }

    private static void putNumber(ArrayNode a, double v) {
        if (Double.isFinite(v)) a.add(v);
        else a.addNull();
    }

    private final Path file;
    /** {batch, step} and the line, in (batch, step) order. */
    private final List<Map.Entry<long[], String>> lines = new ArrayList<>();

    private StepLog(Path file) {
        this.file = file;
    }

    /** A new, empty log at {@code file} (created on the first append). */
    public static StepLog create(Path file) {
        return new StepLog(file);
    }

    /**
     * Continues a log: keeps its lines of other batches and those of {@code batch} before {@code step} (the steps
     * from {@code step} on are run again).
     */
    public static StepLog resume(Path file, int batch, int step) throws IOException {
        StepLog log = new StepLog(file);
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file)) {
                if (line.isBlank()) continue;
                JsonNode n = JSON.readTree(line);
                int b = n.path("batch").asInt(), s = n.path("step").asInt();
                if (b != batch || s < step) log.insert(b, s, line);
            }
        }
        return log;
    }

    /**
     * Writes to {@code to} the lines of {@code from} that come before batch {@code batch}'s step {@code step} (a
     * variant's log starts with the steps it shares with the run it continues).
     */
    public static void copyPrefix(Path from, Path to, int batch, int step) throws IOException {
        StringBuilder sb = new StringBuilder();
        if (Files.exists(from)) {
            for (String line : Files.readAllLines(from)) {
                if (line.isBlank()) continue;
                JsonNode n = JSON.readTree(line);
                int b = n.path("batch").asInt(), s = n.path("step").asInt();
                if (b < batch || (b == batch && s < step)) sb.append(line).append('\n');
            }
        }
        AtomicFiles.writeString(to, sb.toString());
    }

    private void insert(long batch, long step, String line) {
        int at = lines.size();
        while (at > 0) {
            long[] k = lines.get(at - 1).getKey();
            if (k[0] < batch || (k[0] == batch && k[1] <= step)) break;
            at--;
        }
        lines.add(at, Map.entry(new long[] {batch, step}, line));
    }

    public void append(Entry e) throws IOException {
        append(e, Map.of());
    }

    /** Appends an entry with extra top-level fields (e.g. the options the step ran with). */
    public void append(Entry e, Map<String, Object> extra) throws IOException {
        ObjectNode o = e.toJson();
        for (Map.Entry<String, Object> x : extra.entrySet()) o.set(x.getKey(), JSON.valueToTree(x.getValue()));
        insert(e.batch(), e.step(), JSON.writeValueAsString(o));
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<long[], String> l : lines) sb.append(l.getValue()).append('\n');
        AtomicFiles.writeString(file, sb.toString());
    }

    public int size() {
        return lines.size();
    }

    public Path file() {
        return file;
    }

    /** Reads a log file back as JSON objects (for tests and tools). */
    public static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) if (!line.isBlank()) out.add(JSON.readTree(line));
        return out;
    }

    static Map<String, List<Double>> emptyLosses() {
        return new LinkedHashMap<>();
    }
}
