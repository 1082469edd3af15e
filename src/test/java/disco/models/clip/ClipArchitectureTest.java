package disco.models.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.reference.Fixtures;
import disco.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Every OpenAI CLIP manifest: the network built from its shapes has exactly its keys, shapes and size. */
class ClipArchitectureTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Map<String, long[]> manifest(Path file) throws IOException {
        JsonNode root = JSON.readTree(file.toFile());
        Map<String, long[]> out = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (ClipConfig.NON_WEIGHT_KEYS.contains(e.getKey())) continue;
            JsonNode s = e.getValue().get("shape");
            long[] shape = new long[s.size()];
            for (int i = 0; i < shape.length; i++) shape[i] = s.get(i).asLong();
            out.put(e.getKey(), shape);
        }
        return out;
    }

    @Test
    void everyManifestBuildsWithExactlyItsKeysShapesAndParameterCount() throws IOException {
        Torch.init();
        Path arch = Fixtures.root().map(r -> r.resolve("architectures")).filter(Files::isDirectory).orElse(null);
        assumeTrue(arch != null, Fixtures.missingMessage());
        JsonNode counts = JSON.readTree(arch.resolve("param_counts.json").toFile());
        List<Path> manifests;
        try (Stream<Path> s = Files.list(arch)) {
            manifests = s.filter(p -> p.getFileName().toString().matches("clip-.*\\.json")).sorted().toList();
        }
        assertFalse(manifests.isEmpty(), "no clip-*.json manifests in " + arch);
        List<String> checked = new ArrayList<>();
        for (Path file : manifests) {
            String name = file.getFileName().toString().replaceFirst("\\.json$", "");
            Map<String, long[]> want = manifest(file);
            try (PointerScope scope = new PointerScope()) {
                ClipConfig cfg = ClipConfig.fromShapes(want, file.toString());
                ClipModel m = ClipModel.build(cfg, new Device("meta"));
                Map<String, long[]> got = new TreeMap<>(m.shapes());
                assertEquals(new TreeSet<>(want.keySet()), new TreeSet<>(got.keySet()), name + ": keys");
                long total = 0;
                for (var e : want.entrySet()) {
                    assertArrayEquals(e.getValue(), got.get(e.getKey()), name + ": shape of " + e.getKey());
                    total += Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b);
                }
                assertEquals(counts.get(name).asLong(), total, name + ": parameter count");
                // LibTorch's own registry (what a checkpoint loader walks) names the same tensors
                TreeSet<String> registered = new TreeSet<>();
                for (StringTensorDict d : new StringTensorDict[] {m.named_parameters(), m.named_buffers()}) {
                    for (long i = 0; i < d.size(); i++) registered.add(d.get(i).key().getString());
                }
                assertEquals(new TreeSet<>(want.keySet()), registered, name + ": LibTorch named_parameters/buffers");
                checked.add(name + (cfg.isVit() ? " (ViT " : " (ResNet ") + cfg.imageResolution() + "px)");
            }
        }
        System.out.println("CLIP architectures matched: " + checked);
    }

    @Test
    void resnetAndVitConfigsFollowBuildModel() throws IOException {
        Path arch = Fixtures.root().map(r -> r.resolve("architectures")).filter(Files::isDirectory).orElse(null);
        assumeTrue(arch != null, Fixtures.missingMessage());
        ClipConfig rn50 = ClipConfig.fromShapes(manifest(arch.resolve("clip-RN50.json")), "RN50");
        assertEquals(List.of(3, 4, 6, 3), rn50.resnetLayers());
        assertEquals(224, rn50.imageResolution());
        assertEquals(32, rn50.visionHeads());
        assertEquals(1024, rn50.embedDim());
        assertEquals(8, rn50.transformerHeads());
        ClipConfig l336 = ClipConfig.fromShapes(manifest(arch.resolve("clip-ViT-L-14-336.json")), "L14@336");
        assertTrue(l336.isVit());
        assertEquals(336, l336.imageResolution());
        assertEquals(14, l336.visionPatchSize());
        assertEquals(24, l336.vitLayers());
        assertEquals(16, l336.visionHeads());
        assertEquals(12, l336.transformerHeads());
    }
}
