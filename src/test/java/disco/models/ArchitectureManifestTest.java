package disco.models;

import disco.torch.Tensors;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.models.checkpoint.TorchCheckpoint;
import disco.models.layers.Params;
import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetConfig;
import disco.models.unet.UNetModel;
import disco.reference.Fixtures;
import disco.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * For every UNet and secondary-model manifest in {@code fixtures/architectures/}: the Java network built from the same
 * config (or, for the secondary model, from the manifest's shapes) has exactly the manifest's keys, in order, with
 * its shapes and dtypes, and its parameter count equals {@code param_counts.json}. Networks are built on the meta
 * device, so the real 512 model costs no memory here.
 */
class ArchitectureManifestTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path architectures() {
        assumeTrue(Fixtures.root().isPresent(), Fixtures.missingMessage());
        Path dir = Fixtures.root().get().resolve("architectures");
        assumeTrue(Files.isDirectory(dir), "no architectures/ in the fixtures");
        return dir;
    }

    @TestFactory
    Stream<DynamicTest> unetManifests() throws IOException {
        Path dir = architectures();
        List<Path> configs;
        try (Stream<Path> s = Files.list(dir)) {
            configs = s.filter(p -> p.getFileName().toString().matches("unet-.*\\.config\\.json")).sorted().toList();
        }
        assertFalse(configs.isEmpty(), "no unet-*.config.json in " + dir);
        return configs.stream().map(cfg -> {
            String name = cfg.getFileName().toString().replace(".config.json", "");
            return DynamicTest.dynamicTest(name, () -> {
                UNetConfig c = UNetConfig.read(cfg);
                try (PointerScope scope = new PointerScope()) {
                    Module m = Params.on(new Device("meta"), () -> new UNetModel(c));
                    compare(dir.resolve(name + ".json"), m, paramCount(dir, name));
                }
            });
        });
    }

    @TestFactory
    Stream<DynamicTest> secondaryManifests() throws IOException {
        Path dir = architectures();
        List<Path> manifests;
        try (Stream<Path> s = Files.list(dir)) {
            manifests = s.filter(p -> p.getFileName().toString().startsWith("secondary")
                    && p.getFileName().toString().endsWith(".json")).sorted().toList();
        }
        assertFalse(manifests.isEmpty(), "no secondary model manifest in " + dir);
        return manifests.stream().map(mf -> {
            String name = mf.getFileName().toString().replace(".json", "");
            return DynamicTest.dynamicTest(name, () -> {
                Map<String, long[]> shapes = new LinkedHashMap<>();
                manifest(mf).forEach((k, v) -> shapes.put(k, v.shape()));
                try (PointerScope scope = new PointerScope()) {
                    Module m = Params.on(new Device("meta"), () -> SecondaryModel.fromShapes(shapes, mf));
                    compare(mf, m, paramCount(dir, name));
                }
            });
        });
    }

    record Entry(long[] shape, String dtype) {}

    static Map<String, Entry> manifest(Path file) throws IOException {
        JsonNode n = JSON.readTree(file.toFile());
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode shape = e.getValue().get("shape");
            long[] s = new long[shape.size()];
            for (int i = 0; i < s.length; i++) s[i] = shape.get(i).asLong();
            out.put(e.getKey(), new Entry(s, e.getValue().get("dtype").asText()));
        }
        return out;
    }

    private static long paramCount(Path dir, String name) throws IOException {
        JsonNode counts = JSON.readTree(dir.resolve("param_counts.json").toFile());
        JsonNode c = counts.get(name);
        if (c == null) fail("param_counts.json has no entry " + name);
        return c.asLong();
    }

    private static void compare(Path manifestFile, Module m, long expectedCount) throws IOException {
        Torch.init();
        Map<String, Entry> expected = manifest(manifestFile);
        Map<String, Tensor> ours = TorchCheckpoint.stateDict(m);
        List<String> problems = new ArrayList<>();
        for (String k : expected.keySet()) if (!ours.containsKey(k)) problems.add("missing " + k);
        for (String k : ours.keySet()) if (!expected.containsKey(k)) problems.add("extra " + k);
        long count = 0;
        for (Map.Entry<String, Tensor> e : ours.entrySet()) {
            count += e.getValue().numel();
            Entry x = expected.get(e.getKey());
            if (x == null) continue;
            long[] s = Tensors.shape(e.getValue());
            if (!Arrays.equals(s, x.shape())) {
                problems.add(e.getKey() + " shape " + Arrays.toString(s) + " vs " + Arrays.toString(x.shape()));
            }
            String dt = TorchCheckpoint.dtypeName(e.getValue().scalar_type());
            if (!dt.equals(x.dtype())) problems.add(e.getKey() + " dtype " + dt + " vs " + x.dtype());
        }
        if (!problems.isEmpty()) {
            fail(manifestFile.getFileName() + ": " + problems.size() + " differences, first: "
                    + problems.subList(0, Math.min(10, problems.size())));
        }
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(ours.keySet()), "state_dict order");
        assertEquals(expectedCount, count, "parameter count");
    }
}
