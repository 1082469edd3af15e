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
        for (String k : new String[] {"run_dir", "batch_name", "batch_num", "batch", "next_step", "steps_run", "seed", "ints"}) {
            if (m.get(k) == null) throw DiscoException.badInput(file + ": checkpoint.json: " + k + ": expected a value");
        }
        Map<String, Long> ints = new LinkedHashMap<>();
        m.get("ints").fields().forEachRemaining(f -> ints.put(f.getKey(), f.getValue().asLong()));
        for (JsonNode n : m.path("tensors")) {
            if (!tensors.containsKey(n.asText())) throw DiscoException.badInput(file + ": tensors/" + n.asText() + ".npy: missing");
        }
        if (settingsBytes == null) throw DiscoException.badInput(file + ": settings.json: missing from the checkpoint");
        String settings = new String(settingsBytes, StandardCharsets.UTF_8);
        return new Checkpoint(settings, Path.of(m.get("run_dir").asText()), m.get("batch_name").asText(),
                m.get("batch_num").asInt(), m.get("batch").asInt(), m.get("next_step").asInt(), m.get("steps_run").asInt(),
                m.get("seed").asLong(), m.path("reason").asText(""), tensors, ints);
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        in.transferTo(bo);
        return bo.toByteArray();
    }
}
