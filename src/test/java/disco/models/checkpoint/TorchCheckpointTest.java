package disco.models.checkpoint;

import disco.util.ExitCodes;
import disco.torch.Tensors;
import disco.reference.Fixtures;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TorchCheckpointTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static DiscoException badInput(Runnable r) {
        DiscoException e = assertThrows(DiscoException.class, r::run);
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    @Test
    void readsEveryDtypeAndConvertsValues() throws IOException {
        // 1.5 and -2 in float16 (0x3E00, 0xC000) and bfloat16 (0x3FC0, 0xC000)
        TorchZipWriter w = new TorchZipWriter().beginStateDict()
                .tensor("f32", "FloatStorage", "0", 3, 0, new long[] {3}, new long[] {1})
                .tensor("f16", "HalfStorage", "1", 2, 0, new long[] {2}, new long[] {1})
                .tensor("bf16", "BFloat16Storage", "2", 2, 0, new long[] {2}, new long[] {1})
                .tensor("i64", "LongStorage", "3", 2, 0, new long[] {2}, new long[] {1})
                .tensor("b", "BoolStorage", "4", 3, 0, new long[] {3}, new long[] {1})
                .tensor("scalar", "FloatStorage", "5", 1, 0, new long[] {}, new long[] {})
                .endStateDict()
                .storage("0", TorchZipWriter.floats(1f, -2.5f, 3.25f))
                .storage("1", TorchZipWriter.shorts(0x3E00, 0xC000))
                .storage("2", TorchZipWriter.shorts(0x3FC0, 0xC000))
                .storage("3", TorchZipWriter.longs(7, -9_000_000_000L))
                .storage("4", new byte[] {1, 0, 1})
                .storage("5", TorchZipWriter.floats(0.5f));
        Path f = w.write(tmp.resolve("ck.pt"), "some_archive_name");
        Map<String, Tensor> m = TorchCheckpoint.read(f);
        assertEquals(List.of("f32", "f16", "bf16", "i64", "b", "scalar"), List.copyOf(m.keySet()));
        assertEquals(ScalarType.Float, m.get("f32").scalar_type().intern());
        assertEquals(ScalarType.Half, m.get("f16").scalar_type().intern());
        assertEquals(ScalarType.BFloat16, m.get("bf16").scalar_type().intern());
        assertEquals(ScalarType.Long, m.get("i64").scalar_type().intern());
        assertEquals(ScalarType.Bool, m.get("b").scalar_type().intern());
        assertArrayEquals(new float[] {1f, -2.5f, 3.25f}, Tensors.toFloats(m.get("f32")));
        assertArrayEquals(new float[] {1.5f, -2f}, Tensors.toFloats(m.get("f16")));
        assertArrayEquals(new float[] {1.5f, -2f}, Tensors.toFloats(m.get("bf16")));
        assertArrayEquals(new double[] {7, -9e9}, Tensors.toDoubles(m.get("i64")));
        assertArrayEquals(new float[] {1, 0, 1}, Tensors.toFloats(m.get("b")));
        assertEquals(0, m.get("scalar").dim());
        assertArrayEquals(new float[] {0.5f}, Tensors.toFloats(m.get("scalar")));
    }

    @Test
    void sharedStoragesAndStridedViews() throws IOException {
        // one storage of 8 floats: "a" is all of it as [2,4]; "t" is a transposed [3,2] view at offset 1
        float[] data = {0, 1, 2, 3, 4, 5, 6, 7};
        TorchZipWriter w = new TorchZipWriter().beginStateDict()
                .tensor("a", "FloatStorage", "0", 8, 0, new long[] {2, 4}, new long[] {4, 1})
                .tensor("t", "FloatStorage", "0", 8, 1, new long[] {3, 2}, new long[] {1, 4})
                .endStateDict()
                .storage("0", TorchZipWriter.floats(data));
        Map<String, Tensor> m = TorchCheckpoint.read(w.write(tmp.resolve("views.pt"), "archive"));
        assertArrayEquals(data, Tensors.toFloats(m.get("a")));
        assertArrayEquals(new long[] {3, 2}, Tensors.shape(m.get("t")));
        assertArrayEquals(new float[] {1, 5, 2, 6, 3, 7}, Tensors.toFloats(m.get("t")));
        // the storage is shared, as in PyTorch
        m.get("a").mul_(new org.bytedeco.pytorch.Scalar(2.0));
        assertArrayEquals(new float[] {2, 10, 4, 12, 6, 14}, Tensors.toFloats(m.get("t")));
    }

    @Test
    void viewPastItsStorageIsRefused() throws IOException {
        TorchZipWriter w = new TorchZipWriter().beginStateDict()
                .tensor("w", "FloatStorage", "0", 4, 2, new long[] {4}, new long[] {1})
                .endStateDict().storage("0", TorchZipWriter.floats(0, 1, 2, 3));
        Path f = w.write(tmp.resolve("past.pt"), "archive");
        DiscoException e = badInput(() -> TorchCheckpoint.read(f));
        assertTrue(e.getMessage().contains(": w: view runs past"), e.getMessage());
    }

    @Test
    void sizesThatOverflowAreRefusedNotWrapped() throws IOException {
        // 2^62 float32 elements: 2^64 bytes, which a long multiplication wraps to 0
        TorchZipWriter w = new TorchZipWriter().beginStateDict()
                .tensor("w", "FloatStorage", "0", 1L << 62, 0, new long[] {4}, new long[] {1})
                .endStateDict().storage("0", TorchZipWriter.floats(0, 1, 2, 3));
        Path f = w.write(tmp.resolve("huge.pt"), "archive");
        DiscoException e = badInput(() -> TorchCheckpoint.read(f));
        assertTrue(e.getMessage().contains("storage data/0") && e.getMessage().contains("overflow"), e.getMessage());
        // a view whose extent overflows a long: past its storage, not wrapped inside it
        TorchZipWriter v = new TorchZipWriter().beginStateDict()
                .tensor("w", "FloatStorage", "0", 4, 0, new long[] {3, 2}, new long[] {1L << 62, 1})
                .endStateDict().storage("0", TorchZipWriter.floats(0, 1, 2, 3));
        Path g = v.write(tmp.resolve("stride.pt"), "archive");
        e = badInput(() -> TorchCheckpoint.read(g));
        assertTrue(e.getMessage().contains(": w: view runs past"), e.getMessage());
    }

    @Test
    void maliciousGlobalIsRefusedBeforeAnythingIsBuilt() throws IOException {
        // a tensor whose storage is absent from the archive, then os.system('...'): refusing the global must come
        // first (no storage is read and no tensor built before the whole pickle is accepted)
        TorchZipWriter w = new TorchZipWriter().beginStateDict()
                .tensor("w", "FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})
                .str("evil").global("os", "system").op('(').str("touch " + tmp.resolve("pwned")).op('t').op('R')
                .endStateDict();
        Path f = w.write(tmp.resolve("evil.pt"), "archive");
        DiscoException e = badInput(() -> TorchCheckpoint.read(f));
        assertTrue(e.getMessage().contains("os.system"), e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        assertTrue(!Files.exists(tmp.resolve("pwned")));
    }

    @Test
    void builtinsEvalAndObjOpcodesAreRefused() throws IOException {
        TorchZipWriter w = new TorchZipWriter().beginStateDict();
        w.str("x").global("builtins", "eval").op('(').str("1+1").op('t').op('R').endStateDict();
        Path f = w.write(tmp.resolve("eval.pt"), "archive");
        assertTrue(badInput(() -> TorchCheckpoint.read(f)).getMessage().contains("builtins.eval"));
        TorchZipWriter v = new TorchZipWriter();
        v.op(0x80).op(2).op('(').str("x").op('i');
        byte[] inst = "os\nsystem\n".getBytes();
        v.pkl.write(inst, 0, inst.length);
        v.op('.');
        Path g = v.write(tmp.resolve("inst.pt"), "archive");
        badInput(() -> TorchCheckpoint.read(g));
    }

    @Test
    void truncatedZipIsBadInput() throws IOException {
        TorchZipWriter w = new TorchZipWriter().beginStateDict()
                .tensor("w", "FloatStorage", "0", 1024, 0, new long[] {1024}, new long[] {1})
                .endStateDict().storage("0", TorchZipWriter.floats(new float[1024]));
        byte[] full = w.zipBytes("archive");
        Path f = tmp.resolve("cut.pt");
        Files.write(f, Arrays.copyOf(full, full.length / 2));
        DiscoException e = badInput(() -> TorchCheckpoint.read(f));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void missingStorageIsBadInput() throws IOException {
        TorchZipWriter w = new TorchZipWriter().beginStateDict()
                .tensor("layer.w", "FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})
                .endStateDict();
        Path f = w.write(tmp.resolve("nostorage.pt"), "archive");
        DiscoException e = badInput(() -> TorchCheckpoint.read(f));
        assertTrue(e.getMessage().contains("layer.w") && e.getMessage().contains("data/0"), e.getMessage());
    }

    @Test
    void legacyFormatIsReadAsZipFilesAre() throws IOException {
        for (boolean v1 : new boolean[] {false, true}) {
            TorchZipWriter w = new TorchZipWriter();
            w.legacy = true;
            w.v1 = v1;
            w.beginStateDict()
                    .tensor("weight", "FloatStorage", "94", 6, 0, new long[] {2, 3}, new long[] {3, 1})
                    .tensor("count", "LongStorage", "17", 1, 0, new long[] {}, new long[] {})
                    .tensor("classifier.w", "FloatStorage", "5", 2, 0, new long[] {2}, new long[] {1})
                    .endStateDict()
                    .storage("17", TorchZipWriter.longs(42))
                    .storage("5", TorchZipWriter.floats(7, 8))
                    .storage("94", TorchZipWriter.floats(1, 2, 3, 4, 5, 6));
            Path f = tmp.resolve("legacy" + v1 + ".pth");
            Files.write(f, w.legacyBytes());
            Map<String, Tensor> m = TorchCheckpoint.read(f);
            assertEquals(List.of("weight", "count", "classifier.w"), List.copyOf(m.keySet()));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, Tensors.toFloats(m.get("weight")));
            assertEquals(42, m.get("count").item_long());
            assertArrayEquals(new long[] {2, 3}, TorchCheckpoint.shapes(f).get("weight"));
            Module mod = smallModule();
            TorchCheckpoint.load(mod, f, Set.of("classifier.w"));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, Tensors.toFloats(TorchCheckpoint.stateDict(mod).get("weight")));
            DiscoException e = badInput(() -> TorchCheckpoint.load(smallModule(), f, Set.of()));
            assertTrue(e.getMessage().contains("classifier.w: unexpected key"), e.getMessage());
            // truncated in the last storage
            byte[] all = w.legacyBytes();
            Path g = tmp.resolve("cut" + v1 + ".pth");
            Files.write(g, Arrays.copyOf(all, all.length - 3));
            e = badInput(() -> TorchCheckpoint.read(g));
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
        Path g = tmp.resolve("text.pt");
        Files.writeString(g, "hello");
        badInput(() -> TorchCheckpoint.read(g));
    }

    @Test
    void legacyFormatRefusesGlobalsOutsideTheAllowlist() throws IOException {
        TorchZipWriter w = new TorchZipWriter();
        w.legacy = true;
        w.op(0x80).op(2).global("os", "system").str("echo hi").op(0x85).op('R').op('.');
        Path f = tmp.resolve("evil.pth");
        Files.write(f, w.legacyBytes());
        DiscoException e = badInput(() -> TorchCheckpoint.read(f));
        assertTrue(e.getMessage().contains("refused pickle global os.system"), e.getMessage());
    }

    @Test
    void readsTheLegacyFixtureFiles() {
        assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path dir = Fixtures.referenceA().get();
        for (String name : List.of("lpips-vgg16.pth", "lpips-lin.pth")) {
            Path f = dir.resolve(name);
            if (!Files.exists(f)) continue;
            Map<String, Tensor> m = TorchCheckpoint.read(f);
            assertTrue(!m.isEmpty());
            for (Tensor t : m.values()) assertEquals(ScalarType.Float, t.scalar_type().intern());
            assertTrue(m.keySet().iterator().next().startsWith(name.contains("vgg") ? "features.0." : "lin0."), m.keySet().toString());
        }
    }

    /** A module with one float parameter [2,3] and an int64 buffer, like BatchNorm's num_batches_tracked. */
    private static Module smallModule() {
        Module m = new Module();
        m.register_parameter("weight", torch.zeros(new long[] {2, 3}, new TensorOptions(ScalarType.Float)));
        m.register_buffer("count", torch.zeros(new long[] {}, new TensorOptions(ScalarType.Long)));
        return m;
    }

    private Path smallCheckpoint(String name, String weightType, byte[] weight, long[] shape) throws IOException {
        return new TorchZipWriter().beginStateDict()
                .tensor("weight", weightType, "0", 6, 0, shape, shape.length == 2 ? new long[] {shape[1], 1} : new long[] {1})
                .tensor("count", "LongStorage", "1", 1, 0, new long[] {}, new long[] {})
                .endStateDict().storage("0", weight).storage("1", TorchZipWriter.longs(42))
                .write(tmp.resolve(name), "archive");
    }

    @Test
    void loadIntoConvertsHalfToFloat() throws IOException {
        // 1, 2, -0.5, 0.25, 1.5, -2 in float16
        byte[] half = TorchZipWriter.shorts(0x3C00, 0x4000, 0xB800, 0x3400, 0x3E00, 0xC000);
        Path f = smallCheckpoint("half.pt", "HalfStorage", half, new long[] {2, 3});
        Module m = smallModule();
        TorchCheckpoint.loadInto(m, TorchCheckpoint.read(f), f);
        Map<String, Tensor> sd = TorchCheckpoint.stateDict(m);
        assertEquals(ScalarType.Float, sd.get("weight").scalar_type().intern());
        assertArrayEquals(new float[] {1, 2, -0.5f, 0.25f, 1.5f, -2}, Tensors.toFloats(sd.get("weight")));
        assertArrayEquals(new double[] {42}, Tensors.toDoubles(sd.get("count")));
        assertTrue(sd.get("weight").requires_grad(), "still a trainable parameter");
    }

    @Test
    void loadIntoRefusesWrongShapeDtypeMissingAndExtraKeys() throws IOException {
        byte[] f32 = TorchZipWriter.floats(1, 2, 3, 4, 5, 6);
        Path wrongShape = smallCheckpoint("shape.pt", "FloatStorage", f32, new long[] {6});
        DiscoException e = badInput(() -> TorchCheckpoint.loadInto(smallModule(), TorchCheckpoint.read(wrongShape), wrongShape));
        assertTrue(e.getMessage().contains("shape.pt: weight: expected shape [2, 3], got [6]"), e.getMessage());

        Path wrongDtype = smallCheckpoint("dtype.pt", "BoolStorage", new byte[6], new long[] {2, 3});
        e = badInput(() -> TorchCheckpoint.loadInto(smallModule(), TorchCheckpoint.read(wrongDtype), wrongDtype));
        assertTrue(e.getMessage().contains("dtype.pt: weight: expected dtype float32, got bool"), e.getMessage());

        Path onlyWeight = new TorchZipWriter().beginStateDict()
                .tensor("weight", "FloatStorage", "0", 6, 0, new long[] {2, 3}, new long[] {3, 1})
                .endStateDict().storage("0", f32).write(tmp.resolve("missing.pt"), "a");
        e = badInput(() -> TorchCheckpoint.loadInto(smallModule(), TorchCheckpoint.read(onlyWeight), onlyWeight));
        assertTrue(e.getMessage().contains("missing.pt: count: missing key"), e.getMessage());

        Path extra = new TorchZipWriter().beginStateDict()
                .tensor("weight", "FloatStorage", "0", 6, 0, new long[] {2, 3}, new long[] {3, 1})
                .tensor("count", "LongStorage", "1", 1, 0, new long[] {}, new long[] {})
                .tensor("bias", "FloatStorage", "0", 6, 0, new long[] {2}, new long[] {1})
                .endStateDict().storage("0", f32).storage("1", TorchZipWriter.longs(1))
                .write(tmp.resolve("extra.pt"), "a");
        e = badInput(() -> TorchCheckpoint.loadInto(smallModule(), TorchCheckpoint.read(extra), extra));
        assertTrue(e.getMessage().contains("extra.pt: bias: unexpected key"), e.getMessage());
        TorchCheckpoint.loadInto(smallModule(), TorchCheckpoint.read(extra), extra, Set.of("bias")); // explicitly ignored
    }

    @Test
    void streamingLoadMatchesReadThenLoadInto() throws IOException {
        // float16 weight as a view at offset 1 of a shared storage, plus the int64 buffer
        byte[] half = TorchZipWriter.shorts(0x0000, 0x3C00, 0x4000, 0xB800, 0x3400, 0x3E00, 0xC000);
        Path f = new TorchZipWriter().beginStateDict()
                .tensor("weight", "HalfStorage", "0", 7, 1, new long[] {2, 3}, new long[] {3, 1})
                .tensor("count", "LongStorage", "1", 1, 0, new long[] {}, new long[] {})
                .endStateDict().storage("0", half).storage("1", TorchZipWriter.longs(42))
                .write(tmp.resolve("stream.pt"), "archive");
        Module a = smallModule(), b = smallModule();
        TorchCheckpoint.loadInto(a, TorchCheckpoint.read(f), f);
        TorchCheckpoint.load(b, f, Set.of());
        Map<String, Tensor> sa = TorchCheckpoint.stateDict(a), sb = TorchCheckpoint.stateDict(b);
        assertArrayEquals(new float[] {1, 2, -0.5f, 0.25f, 1.5f, -2}, Tensors.toFloats(sb.get("weight")));
        assertArrayEquals(Tensors.toFloats(sa.get("weight")), Tensors.toFloats(sb.get("weight")));
        assertArrayEquals(new double[] {42}, Tensors.toDoubles(sb.get("count")));
        assertArrayEquals(new long[] {2, 3}, TorchCheckpoint.shapes(f).get("weight"));
    }

    @Test
    void streamingLoadChecksKeysAndShapesBeforeReadingData() throws IOException {
        // no storage entries at all: the shape mismatch must be reported, as nothing is read before the checks pass
        Path f = new TorchZipWriter().beginStateDict()
                .tensor("weight", "FloatStorage", "0", 6, 0, new long[] {6}, new long[] {1})
                .tensor("count", "LongStorage", "1", 1, 0, new long[] {}, new long[] {})
                .endStateDict().write(tmp.resolve("nodata.pt"), "archive");
        DiscoException e = badInput(() -> TorchCheckpoint.load(smallModule(), f, Set.of()));
        assertTrue(e.getMessage().contains("nodata.pt: weight: expected shape [2, 3], got [6]"), e.getMessage());
        Path g = new TorchZipWriter().beginStateDict()
                .tensor("weight", "FloatStorage", "0", 6, 0, new long[] {2, 3}, new long[] {3, 1})
                .tensor("count", "LongStorage", "1", 1, 0, new long[] {}, new long[] {})
                .endStateDict().storage("1", TorchZipWriter.longs(1)).write(tmp.resolve("nostorage0.pt"), "archive");
        e = badInput(() -> TorchCheckpoint.load(smallModule(), g, Set.of()));
        assertTrue(e.getMessage().contains("nostorage0.pt: weight: storage data/0 missing"), e.getMessage());
    }

    @Test
    void readsFixtureStateDictAndTorchScriptArchive() throws IOException {
        assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path dir = Fixtures.referenceA().get();
        Path unet = dir.resolve("unet.pt");
        Map<String, Tensor> u = TorchCheckpoint.read(unet);
        assertTrue(u.containsKey("input_blocks.0.0.weight") && u.containsKey("out.2.weight"), u.keySet().toString());
        for (Tensor t : u.values()) assertEquals(ScalarType.Float, t.scalar_type().intern());
        // the first tensor's values equal the bytes of its storage entry
        String first = u.keySet().iterator().next();
        float[] ours = Tensors.toFloats(u.get(first));
        assertArrayEquals(rawFloats(unet, ours.length), ours);

        for (String clip : List.of("clip-RN-tiny.pt", "clip-ViT-tiny.pt")) {
            Path f = dir.resolve(clip);
            if (!Files.exists(f)) continue;
            Map<String, Tensor> c = TorchCheckpoint.read(f);
            assertTrue(c.containsKey("positional_embedding") && c.containsKey("token_embedding.weight")
                    && c.containsKey("visual.conv1.weight") && c.containsKey("ln_final.bias"), c.keySet().toString());
            assertEquals(ScalarType.Half, c.get("visual.conv1.weight").scalar_type().intern());
            for (String k : c.keySet()) {
                assertTrue(!k.contains("attn_mask") && !k.startsWith("training"), k);
            }
        }
        Path rn = dir.resolve("clip-RN-tiny.pt");
        if (Files.exists(rn)) {
            Map<String, Tensor> c = TorchCheckpoint.read(rn);
            assertEquals(ScalarType.Long, c.get("visual.bn1.num_batches_tracked").scalar_type().intern());
            assertTrue(c.containsKey("visual.attnpool.positional_embedding"));
        }
    }

    /** The first storage entry of a checkpoint (data/0) decoded as little-endian floats. */
    private static float[] rawFloats(Path file, int n) throws IOException {
        try (ZipFile z = new ZipFile(file.toFile())) {
            var e = z.stream().filter(x -> x.getName().endsWith("/data/0")).findFirst().orElseThrow();
            try (InputStream in = z.getInputStream(e)) {
                ByteBuffer b = ByteBuffer.wrap(in.readNBytes(4 * n)).order(ByteOrder.LITTLE_ENDIAN);
                float[] r = new float[n];
                b.asFloatBuffer().get(r);
                return r;
            }
        }
    }
}
