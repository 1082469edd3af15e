package disco.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.util.AtomicFiles;
import disco.util.DiscoException;
import disco.util.Npy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * A run stopped between two executed steps, enough to continue it to the identical result: the resolved settings,
 * where the run writes (directory, batch name and number), the batch {@code i} in progress and the next executed step,
 * the base seed, and the sampler's state (x_t, PLMS's previous eps, counters) as named float32 tensors and integers.
 *
 * <p>Randomness needs no saved generator: every draw is keyed by (seed, batch, step, model, purpose)
 * ({@link disco.util.RandomStream}), so the seed and the next step are the RNG position; {@code rng} records that.
 *
 * <p>File: a zip with {@code checkpoint.json}, {@code settings.json} (verbatim) and {@code tensors/<name>.npy}, written atomically.
 */
public record Checkpoint(String settingsJson, Path runDir, String batchName, int batchNum, int batch, int nextStep,
                         int stepsRun, long seed, String reason, Map<String, Npy.Array> tensors, Map<String, Long> ints) {
    public static final int FORMAT = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    public Checkpoint {
        tensors = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        ints = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(ints));
    }

    public void write(Path file) throws IOException {
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", FORMAT);
        meta.put("kind", "disco-run-checkpoint");
        meta.put("reason", reason);
        meta.put("run_dir", runDir.toAbsolutePath().toString());
        meta.put("batch_name", batchName);
        meta.put("batch_num", batchNum);
        meta.put("batch", batch);
        meta.put("next_step", nextStep);
        meta.put("steps_run", stepsRun);
        meta.put("seed", seed);
        ObjectNode rng = meta.putObject("rng");
        rng.put("kind", "counter-based, keyed by (seed + batch, batch, step, model, purpose)");
        rng.put("seed", seed + batch);
        rng.put("next_step", nextStep);
        ObjectNode in = meta.putObject("ints");
        ints.forEach(in::put);
        meta.putArray("tensors").addAll(tensors.keySet().stream().map(JSON.getNodeFactory()::textNode).toList());
        byte[] metaBytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(meta);
        AtomicFiles.write(file, out -> {
            ZipOutputStream zip = new ZipOutputStream(out);
            zip.putNextEntry(new ZipEntry("checkpoint.json"));
            zip.write(metaBytes);
            zip.closeEntry();
            zip.putNextEntry(new ZipEntry("settings.json"));
            zip.write(settingsJson.getBytes(StandardCharsets.UTF_8));
            zip.closeEntry();
            for (Map.Entry<String, Npy.Array> e : tensors.entrySet()) {
                zip.putNextEntry(new ZipEntry("tensors/" + e.getKey() + ".npy"));
                zip.write(encode(e.getValue()));
                zip.closeEntry();
            }
            zip.finish();
        });
    }

    private static byte[] encode(Npy.Array a) {
        if (!a.dtype().equals("<f4")) throw new IllegalArgumentException("checkpoint tensors are float32, got " + a.dtype());
        return Npy.encodeFloats(a.floats(), a.shape());
    }

    public static Checkpoint read(Path file) {
        if (!Files.isRegularFile(file)) throw DiscoException.badInput(file + ": checkpoint not found");
        byte[] metaBytes = null;
        byte[] settingsBytes = null;
        Map<String, Npy.Array> tensors = new LinkedHashMap<>();
        try (InputStream raw = Files.newInputStream(file); ZipInputStream zip = new ZipInputStream(raw)) {
            ZipEntry e;
            while ((e = zip.getNextEntry()) != null) {
                byte[] b = readAll(zip);
                if (e.getName().equals("checkpoint.json")) {
                    metaBytes = b;
                } else if (e.getName().equals("settings.json")) {
                    settingsBytes = b;
                } else if (e.getName().startsWith("tensors/") && e.getName().endsWith(".npy")) {
                    String name = e.getName().substring("tensors/".length(), e.getName().length() - 4);
                    tensors.put(name, Npy.parse(b, file + ": " + e.getName()));
                }
            }
        } catch (IOException ex) {
            throw DiscoException.badInput(file + ": not a readable checkpoint (" + ex.getMessage() + ")", ex);
        }
        if (metaBytes == null) throw DiscoException.badInput(file + ": checkpoint.json: expected a disco run checkpoint (zip with checkpoint.json)");
        JsonNode m;
        try {
            m = JSON.readTree(new String(metaBytes, StandardCharsets.UTF_8));
        } catch (IOException ex) {
            throw DiscoException.badInput(file + ": checkpoint.json: not valid JSON (" + ex.getMessage() + ")", ex);
        }
        if (m.path("format").asInt(-1) != FORMAT) {
            throw DiscoException.badInput(file + ": checkpoint.json: format: expected " + FORMAT + ", found " + m.path("format"));
        }
        if (!m.isObject()) throw DiscoException.badInput(file + ": checkpoint.json: expected a JSON object");
        for (String k : new String[] {"run_dir", "batch_name", "batch_num", "batch", "next_step", "steps_run", "seed", "ints"}) {
            if (m.get(k) == null) throw DiscoException.badInput(file + ": checkpoint.json: " + k + ": expected a value");
        }
        String runDir = text(file, m, "run_dir");
        String batchName = text(file, m, "batch_name");
        Path runPath;
        try {
            runPath = Path.of(runDir);
        } catch (java.nio.file.InvalidPathException ex) {
            throw DiscoException.badInput(file + ": checkpoint.json: run_dir: not a path: '" + abbreviate(runDir) + "'");
        }
        if (!m.get("ints").isObject()) throw DiscoException.badInput(file + ": checkpoint.json: ints: expected an object");
        Map<String, Long> ints = new LinkedHashMap<>();
        var it = m.get("ints").fields();
        while (it.hasNext()) {
            var f = it.next();
            if (!f.getValue().isIntegralNumber() || !f.getValue().canConvertToLong()) {
                throw DiscoException.badInput(file + ": checkpoint.json: ints: " + abbreviate(f.getKey()) + ": expected an integer, found "
                        + abbreviate(f.getValue().toString()));
            }
            ints.put(f.getKey(), f.getValue().asLong());
        }
        for (JsonNode n : m.path("tensors")) {
            if (!tensors.containsKey(n.asText())) {
                throw DiscoException.badInput(file + ": tensors/" + abbreviate(n.asText()) + ".npy: missing");
            }
        }
        if (settingsBytes == null) throw DiscoException.badInput(file + ": settings.json: missing from the checkpoint");
        String settings = new String(settingsBytes, StandardCharsets.UTF_8);
        return new Checkpoint(settings, runPath, batchName,
                integer(file, m, "batch_num"), integer(file, m, "batch"), integer(file, m, "next_step"),
                integer(file, m, "steps_run"), m.get("seed").canConvertToLong() && m.get("seed").isIntegralNumber()
                        ? m.get("seed").asLong() : badField(file, "seed", "an integer", m.get("seed")),
                m.path("reason").asText(""), tensors, ints);
    }

    private static String text(Path file, JsonNode m, String key) {
        JsonNode v = m.get(key);
        if (!v.isTextual()) badField(file, key, "a string", v);
        return v.asText();
    }

    /** A non-negative int field. */
    private static int integer(Path file, JsonNode m, String key) {
        JsonNode v = m.get(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) badField(file, key, "a whole number >= 0", v);
        return v.asInt();
    }

    private static long badField(Path file, String key, String expected, JsonNode found) {
        throw DiscoException.badInput(file + ": checkpoint.json: " + key + ": expected " + expected + ", found "
                + abbreviate(String.valueOf(found)));
    }

    private static String abbreviate(String s) {
        return disco.settings.ScheduleExpr.abbreviate(s);
    }

    /**
     * Checks this checkpoint against the settings it carries, so that resuming it cannot write outside its run
     * directory or feed the sampler a state of another shape: the batch name is a plain file name and the settings',
     * the batch and step counters lie within the run, the seed is the run's, and the sampler state ({@code x} and
     * the previous eps, and the init when the run has one) has the run's image shape. {@code file} names the checkpoint in the messages.
     */
    public void check(Path file, disco.settings.Settings s) {
        String where = file + ": checkpoint.json: ";
        try {
            RunOutputs.checkBatchName(batchName);
        } catch (DiscoException e) {
            throw DiscoException.badInput(where + e.getMessage());
        }
        String expectedName = RunLoop.batchName(s);
        if (!batchName.equals(expectedName)) {
            throw DiscoException.badInput(where + "batch_name: '" + abbreviate(batchName) + "' is not the run's ('"
                    + abbreviate(expectedName) + "' in settings.json)");
        }
        int steps = s.steps() - s.skipSteps();
        if (stepsRun != steps) {
            throw DiscoException.badInput(where + "steps_run: expected " + steps + " (steps - skip_steps of settings.json),"
                    + " found " + stepsRun);
        }
        if (batch >= s.nBatches()) {
            throw DiscoException.badInput(where + "batch: expected 0.." + (s.nBatches() - 1) + " (n_batches " + s.nBatches()
                    + "), found " + batch);
        }
        if (nextStep > steps) throw DiscoException.badInput(where + "next_step: expected 0.." + steps + ", found " + nextStep);
        if (s.seed() != null && seed != s.seed()) {
            throw DiscoException.badInput(where + "seed: " + seed + " is not the run's (" + s.seed() + " in settings.json)");
        }
        Long done = ints.get("steps_done");
        if (done == null || done != nextStep) {
            throw DiscoException.badInput(where + "ints: steps_done: expected " + nextStep + " (next_step), found " + done);
        }
        Long eps = ints.get("old_eps");
        if (eps == null || eps < 0 || eps > 3) {
            throw DiscoException.badInput(where + "ints: old_eps: expected 0..3 (PLMS keeps up to 3), found " + eps);
        }
        long[] shape = {s.batchSize(), 3, s.height(), s.width()};
        java.util.List<String> names = new java.util.ArrayList<>(java.util.List.of("x"));
        for (int i = 0; i < eps; i++) names.add("old_eps." + i);
        // DD's init (init image or perlin init) travels with the state: the init_scale term compares with it
        if (RunLoop.hasInit(s)) names.add("init");
        else if (tensors.containsKey("init")) {
            throw DiscoException.badInput(file + ": tensors/init.npy: the run has no init image or perlin init");
        }
        for (String n : names) {
            Npy.Array a = tensors.get(n);
            String t = file + ": tensors/" + n + ".npy: ";
            if (a == null) throw DiscoException.badInput(t + "missing");
            if (!a.dtype().equals("<f4")) throw DiscoException.badInput(t + "expected float32 (<f4), found " + a.dtype());
            if (!java.util.Arrays.equals(a.shape(), shape)) {
                throw DiscoException.badInput(t + "expected shape " + java.util.Arrays.toString(shape)
                        + " (batch_size, 3, height, width of settings.json), found " + java.util.Arrays.toString(a.shape()));
            }
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        in.transferTo(bo);
        return bo.toByteArray();
    }
}
