package disco.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.util.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class RunFilesTest {
    @TempDir
    Path tmp;

    @Test
    void ddImageConversionTruncatesLikeToPilImage() {
        // [3, 1, 4]: (x + 1) / 2 clamped, * 255, truncated
        float[] chw = {-1f, 1f, 0f, 2f, /*G*/ -3f, 0.5f, -0.99f, 0.999f, /*B*/ Float.NaN, 0.0039f, 0.004f, -0.5f};
        RgbImage img = RgbImage.fromModelSpace(chw, 0, 4, 1);
        assertEquals(0, img.get(0, 0, 0));
        assertEquals(255, img.get(1, 0, 0));
        assertEquals(127, img.get(2, 0, 0)); // 0.5 * 255 = 127.5 -> 127 (not rounded)
        assertEquals(255, img.get(3, 0, 0));
        assertEquals(0, img.get(0, 0, 1));
        assertEquals(191, img.get(1, 0, 1)); // 0.75 * 255 = 191.25
        assertEquals(1, img.get(2, 0, 1));   // 0.005 * 255 = 1.275
        assertEquals(254, img.get(3, 0, 1)); // 0.9995 * 255 = 254.87
        assertEquals(0, img.get(0, 0, 2));   // NaN -> 0
        assertEquals(127, img.get(1, 0, 2));
        assertEquals(128, img.get(2, 0, 2)); // 0.502 * 255 = 128.01
        assertEquals(63, img.get(3, 0, 2));
        // back to model space: to_tensor * 2 - 1
        float[] back = img.toModelSpace();
        assertEquals(-1f, back[0]);
        assertEquals(1f, back[1]);
        assertEquals(127 / 255f * 2f - 1f, back[2]);
    }

    @Test
    void pngTextMetadataRoundTrip() throws Exception {
        String settings = "{\"text_prompts\": [\"Éléphant 象 :2\"], \"steps\": 10}";
        RunOutputs out = RunOutputs.create(tmp, "demo", 1, settings);
        RgbImage img = PilResizeTest.make(5, 3);
        out.writeImage(out.finalImage(0, 0), img, Map.of("step", "9"));
        Path f = tmp.resolve("demo").resolve("demo(0)_0.png");
        assertTrue(Files.exists(f));
        Map<String, String> text = Png.readText(f);
        JsonNode back = new ObjectMapper().readTree(text.get(Png.SETTINGS_KEY));
        assertEquals(new ObjectMapper().readTree(settings), back);
        assertEquals("9", text.get("step"));
        assertArrayEquals(img.rgb(), ImageLoading.readRgb(f).rgb());
        // only the PNG is there: nothing temporary left
        try (var s = Files.list(f.getParent())) {
            assertEquals(List.of(f), s.toList());
        }
    }

    @Test
    void batchNumbersFollowDd() throws Exception {
        RunOutputs a = RunOutputs.create(tmp, "b", 1, "{}");
        assertEquals(0, a.batchNum());
        a.writeSettings();
        RunOutputs b = RunOutputs.create(tmp, "b", 2, "{}");
        assertEquals(1, b.batchNum());
        assertEquals(tmp.resolve("b/b(1)_3_1.png"), b.finalImage(3, 1));
        assertEquals(tmp.resolve("b/partials/b(1)_0003-067%_0.png"), b.partialImage(3, new SaveSchedule.Partial("067%"), 0));
        assertEquals(tmp.resolve("b/b(0)_0.png"), a.finalImage(0, 0));
        assertThrows(disco.util.DiscoException.class, () -> RunOutputs.create(tmp, "../x", 1, "{}"));
    }

    @Test
    void intermediateSavesAsCountFollowDd() {
        // steps 250, skip 10, intermediate_saves 2: steps_per_checkpoint = (250 - 10 - 1) // 3 = 79
        SaveSchedule s = SaveSchedule.ofCount(250, 10, 2, 0);
        assertEquals(79, s.stepsPerCheckpoint());
        assertEquals(List.of(79, 158, 237), s.partialSteps());
        assertEquals("34%", s.partialsAt(79).get(0).tag());   // ceil(79 / 239 * 100)
        assertEquals("67%", s.partialsAt(158).get(0).tag());
        assertEquals("100%", s.partialsAt(237).get(0).tag());
        assertTrue(s.progressAt(239));
        assertFalse(s.progressAt(238));
        // more saves than steps: steps_per_checkpoint floors at 1, step 0 never saves
        SaveSchedule many = SaveSchedule.ofCount(5, 0, 10, 0);
        assertEquals(1, many.stepsPerCheckpoint());
        assertEquals(List.of(1, 2, 3, 4), many.partialSteps());
        // 0: none
        assertEquals(List.of(), SaveSchedule.ofCount(50, 0, 0, 0).partialSteps());
    }

    @Test
    void intermediateSavesAsListAndSaveRate() {
        SaveSchedule s = SaveSchedule.ofList(50, 10, List.of(5, 9, 34, 45), 0);
        assertEquals(List.of(5, 9, 34), s.partialSteps()); // 45 is beyond the 40 executed steps
        assertEquals("009", s.partialsAt(9).get(0).tag());
        SaveSchedule r = SaveSchedule.ofCount(30, 0, 0, 10);
        assertEquals(List.of(0, 10, 20), r.partialSteps()); // DiscoArt: j % save_rate == 0, including 0
        SaveSchedule both = SaveSchedule.ofCount(31, 0, 2, 10); // spc = 30 // 3 = 10
        assertEquals(2, both.partialsAt(10).size());
        assertEquals("34%", both.partialsAt(10).get(0).tag());
        assertEquals("010", both.partialsAt(10).get(1).tag());
    }

    @Test
    void checkpointRoundTrip() throws Exception {
        float[] x = {1f, -2f, 3.5f, Float.MIN_VALUE, 0f, 7f};
        Npy.Array a = Npy.parse(Npy.encodeFloats(x, 1, 3, 1, 2), "x");
        String settings = "{\n  \"steps\" : 10,\n  \"text_prompts\" : [ \"ü:1\" ]\n}";
        Checkpoint c = new Checkpoint(settings, tmp.resolve("run"), "demo", 2, 1, 4, 8, 42L, "interrupt",
                Map.of("x", a), Map.of("steps_done", 4L, "old_eps", 0L));
        Path f = tmp.resolve("c.zip");
        c.write(f);
        Checkpoint b = Checkpoint.read(f);
        assertEquals(settings, b.settingsJson());
        assertEquals(tmp.resolve("run").toAbsolutePath(), b.runDir());
        assertEquals("demo", b.batchName());
        assertEquals(2, b.batchNum());
        assertEquals(1, b.batch());
        assertEquals(4, b.nextStep());
        assertEquals(8, b.stepsRun());
        assertEquals(42L, b.seed());
        assertEquals(4L, b.ints().get("steps_done"));
        assertArrayEquals(x, b.tensors().get("x").floats());
        assertArrayEquals(new long[] {1, 3, 1, 2}, b.tensors().get("x").shape());

        Files.writeString(tmp.resolve("bad.zip"), "not a zip");
        var e = assertThrows(disco.util.DiscoException.class, () -> Checkpoint.read(tmp.resolve("bad.zip")));
        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().contains("bad.zip"));
    }

    @Test
    void stepLogIsJsonLinesAndResumes() throws Exception {
        Path f = tmp.resolve("log.jsonl");
        StepLog log = StepLog.create(f);
        for (int j = 0; j < 3; j++) {
            log.append(new StepLog.Entry(0, j, 7 - j, 700 - 100 * j, List.of("RN-tiny"),
                    Map.of("RN-tiny", List.of(0.5 + j, 0.25)), 0.1, 0.05, false, 12.5));
        }
        List<JsonNode> lines = StepLog.read(f);
        assertEquals(3, lines.size());
        assertEquals(2, lines.get(2).get("step").asInt());
        assertEquals(2.5, lines.get(2).get("loss").get("RN-tiny").get(0).asDouble());
        assertEquals(0.05, lines.get(0).get("grad_rms_after_clamp").asDouble());
        StepLog resumed = StepLog.resume(f, 0, 2);
        assertEquals(2, resumed.size());
        resumed.append(new StepLog.Entry(0, 2, 5, 500, List.of(), Map.of(), Double.NaN, Double.NaN, true, 1));
        lines = StepLog.read(f);
        assertEquals(3, lines.size());
        assertTrue(lines.get(2).get("grad_rms_before_clamp").isNull());
        assertTrue(lines.get(2).get("nan_guarded").asBoolean());
    }
}
