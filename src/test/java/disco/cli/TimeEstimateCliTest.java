package disco.cli;

import disco.plan.StepPlan;
import disco.util.ExitCodes;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.sweep.CalibrationCache;
import disco.sweep.TimeEstimate;
import disco.torch.Torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code --estimate}'s time on the demo networks, end to end: a calibration timed now (announced, cached), the cache
 * read the next time, {@code --calibration cached} never computing, a bad cache file ignored with one warning, a
 * changed size calibrated again, a sweep's dry run calibrated once for its runs, and a {@code disco bench step --json}
 * file as the calibration.
 */
class TimeEstimateCliTest {
    @TempDir
    Path tmp;
    private Path cache;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @BeforeEach
    void ownCache() {
        cache = tmp.resolve("cache/calibration.json");
        System.setProperty(CalibrationCache.PROPERTY, cache.toString());
    }

    @AfterEach
    void restore() {
        System.clearProperty(CalibrationCache.PROPERTY);
    }

    /** The demo networks, both CLIP models on at every step, 4 executed steps, 2 batches. */
    private Path settings(String name, String extra) throws Exception {
        Path f = tmp.resolve(name);
        Files.writeString(f, """
                {"diffusion_model": "demo", "text_prompts": ["a lighthouse"], "clip_models": ["RN-tiny", "ViT-tiny"],
                 "width_height": [64, 64], "steps": 6, "skip_steps": 2, "cutn_batches": 1, "cut_overview": "[4]*1000",
                 "cut_innercut": "[2]*1000", "use_secondary_model": false, "seed": 5, "n_batches": 2%s}
                """.formatted(extra));
        return f;
    }

    private static String timeLine(String stdout) {
        return stdout.lines().filter(l -> l.startsWith("# time:")).findFirst().orElse("");
    }

    private static long count(String text, String what) {
        return text.lines().filter(l -> l.contains(what)).count();
    }

    @Test
    void planCalibratesOnceThenReadsTheCache() throws Exception {
        Path f = settings("demo.json", "");
        CliRun.Result a = CliRun.exec("plan", "--settings", f.toString(), "--estimate");
        assertEquals(0, a.code(), a.stderr());
        assertEquals(1, count(a.stderr(), "disco: estimate: calibrating demo + RN-tiny, ViT-tiny at 64x64"), a.stderr());
        String line = timeLine(a.stdout());
        assertTrue(line.matches("# time: about .* for 8 executed steps \\(4 per batch x 2 batches\\) on this machine"
                + " \\(calibrated now, cached in .*\\)"), a.stdout());
        assertTrue(a.stdout().contains("# memory: estimated peak"), a.stdout());
        // the cache holds the costs of every model, and the printed time is the plan's steps and images scaled by them
        List<String> warnings = new ArrayList<>();
        CalibrationCache c = CalibrationCache.read(cache, warnings::add);
        assertEquals(List.of(), warnings);
        assertEquals(1, c.entries().size());
        CalibrationCache.Entry e = c.entries().get(0);
        assertEquals(TimeEstimate.UNET, e.kind());
        assertEquals(java.util.Set.of("RN-tiny", "ViT-tiny"), e.costs().msPerImage().keySet());
        assertTrue(e.costs().fixedMs() > 0);
        Settings s = SettingsIO.load(f, null).settings();
        StepPlan plan = StepPlan.of(s);
        TimeEstimate.Calibration cal = new TimeEstimate.Calibration(java.util.Map.of(TimeEstimate.UNET, e.costs()), "");
        double ms = TimeEstimate.runMs(cal, plan, 0, plan.size(), 1, false, 2);
        assertTrue(line.startsWith("# time: about " + TimeEstimate.format(ms) + " for"), line + " vs " + ms);

        // again: from the cache, nothing computed
        CliRun.Result b = CliRun.exec("plan", "--settings", f.toString(), "--estimate");
        assertEquals(0, b.code(), b.stderr());
        assertEquals(0, count(b.stderr(), "calibrating"), b.stderr());
        assertTrue(timeLine(b.stdout()).contains("(cached from "), b.stdout());
        assertEquals(timeLine(a.stdout()).replaceAll(" on this machine.*", ""), timeLine(b.stdout()).replaceAll(" on this machine.*", ""));

        // another size is another key: calibrated again, both kept
        CliRun.Result w = CliRun.exec("plan", "--settings", f.toString(), "--estimate", "--set", "width_height=[128, 64]");
        assertEquals(0, w.code(), w.stderr());
        assertEquals(1, count(w.stderr(), "calibrating demo + RN-tiny, ViT-tiny at 128x64"), w.stderr());
        assertEquals(2, CalibrationCache.read(cache, warnings::add).entries().size());

        // --calibration cached with an empty cache: no time, nothing computed
        System.setProperty(CalibrationCache.PROPERTY, tmp.resolve("empty.json").toString());
        CliRun.Result n = CliRun.exec("plan", "--settings", f.toString(), "--estimate", "--calibration", "cached");
        assertEquals(0, n.code(), n.stderr());
        assertEquals(0, count(n.stderr(), "calibrating"), n.stderr());
        assertTrue(n.stderr().contains("disco: estimate: no calibration cached for demo + RN-tiny, ViT-tiny at 64x64"), n.stderr());
        assertTrue(timeLine(n.stdout()).startsWith("# time: not estimated"), n.stdout());
        assertFalse(Files.exists(tmp.resolve("empty.json")));

        // a bad cache file: one warning, then calibrated and rewritten
        Path bad = tmp.resolve("bad.json");
        Files.writeString(bad, "{\"version\": 1, \"entries\": 3}");
        System.setProperty(CalibrationCache.PROPERTY, bad.toString());
        CliRun.Result k = CliRun.exec("plan", "--settings", f.toString(), "--estimate");
        assertEquals(0, k.code(), k.stderr());
        assertEquals(1, count(k.stderr(), "not a calibration cache"), k.stderr());
        assertEquals(1, count(k.stderr(), "calibrating"), k.stderr());
        assertEquals(1, CalibrationCache.read(bad, warnings::add).entries().size());
        assertEquals(List.of(), warnings);

        // --calibration is a part of --estimate
        CliRun.Result x = CliRun.exec("plan", "--settings", f.toString(), "--calibration", "cached");
        assertEquals(ExitCodes.BAD_INPUT, x.code());
        assertTrue(x.stderr().contains("--calibration: expected together with --estimate"), x.stderr());
    }

    @Test
    void aSweepsDryRunIsCalibratedOnceForItsRuns() throws Exception {
        Path f = tmp.resolve("sweep.yml");
        Files.writeString(f, """
                set:
                  diffusion_model: demo
                  text_prompts: ["a lighthouse"]
                  clip_models: [RN-tiny, ViT-tiny]
                  width_height: [64, 64]
                  steps: 6
                  skip_steps: 2
                  cut_overview: "[4]*1000"
                  cut_innercut: "[2]*1000"
                  cutn_batches: 1
                  use_secondary_model: false
                  seed: 5
                  n_batches: 1
                  clip_models_schedules.RN-tiny: "[True]*{k}+[False]*(1000-{k})"
                grid:
                  k: [500, 1000]
                """);
        CliRun.Result a = CliRun.exec("sweep", f.toString(), "--dry-run", "--estimate");
        assertEquals(0, a.code(), a.stderr());
        assertEquals(1, count(a.stderr(), "calibrating"), a.stderr());
        var m = java.util.regex.Pattern.compile("# steps: (\\d+) executed").matcher(a.stdout());
        assertTrue(m.find(), a.stdout());
        assertTrue(timeLine(a.stdout()).matches("# time: about .* for the " + m.group(1) + " executed steps on this machine"
                + " \\(calibrated now, .*\\)"), a.stdout());
        CliRun.Result b = CliRun.exec("sweep", f.toString(), "--dry-run", "--estimate", "--calibration", "cached");
        assertEquals(0, b.code(), b.stderr());
        assertTrue(timeLine(b.stdout()).contains("(cached from "), b.stdout());
        CliRun.Result c = CliRun.exec("sweep", f.toString(), "--dry-run", "--calibration", "cached");
        assertEquals(ExitCodes.BAD_INPUT, c.code(), c.stderr());
    }

    @Test
    void aBenchStepJsonIsACalibration() throws Exception {
        Path f = settings("demo.json", "");
        CliRun.Result bench = CliRun.exec("bench", "step", "--demo", "--settings", f.toString(), "--steps", "3", "--json");
        assertEquals(0, bench.code(), bench.stderr());
        Path json = tmp.resolve("bench.json");
        Files.writeString(json, bench.stdout());
        CliRun.Result a = CliRun.exec("plan", "--settings", f.toString(), "--estimate", "--calibration", json.toString());
        assertEquals(0, a.code(), a.stderr());
        assertEquals(0, count(a.stderr(), "calibrating"), a.stderr());
        assertTrue(timeLine(a.stdout()).matches("# time: about .* for 8 executed steps .* \\(from bench file " +
                java.util.regex.Pattern.quote(json.toString()) + " .*device cpu\\)\\)"), a.stdout());
        assertFalse(Files.exists(cache), "a bench file is not cached");

        // a bench of one model cannot estimate a plan with two
        Path vit = settings("vit.json", "");
        Files.writeString(vit, Files.readString(vit).replace("[\"RN-tiny\", \"ViT-tiny\"]", "[\"ViT-tiny\"]"));
        CliRun.Result vb = CliRun.exec("bench", "step", "--demo", "--settings", vit.toString(), "--steps", "2", "--json");
        assertEquals(0, vb.code(), vb.stderr());
        Path vjson = tmp.resolve("vit-bench.json");
        Files.writeString(vjson, vb.stdout());
        CliRun.Result m = CliRun.exec("plan", "--settings", f.toString(), "--estimate", "--calibration", vjson.toString());
        assertEquals(ExitCodes.BAD_INPUT, m.code(), m.stdout() + m.stderr());
        assertEquals(1, m.stderr().strip().lines().count(), m.stderr());
        assertTrue(m.stderr().contains("has no timing of RN-tiny"), m.stderr());

        // not a bench file, no such file: one line, exit 2
        Path junk = tmp.resolve("junk.json");
        Files.writeString(junk, "{\"modes\": {}}");
        for (String bad : List.of(junk.toString(), tmp.resolve("nope.json").toString())) {
            CliRun.Result r = CliRun.exec("plan", "--settings", f.toString(), "--estimate", "--calibration", bad);
            assertEquals(ExitCodes.BAD_INPUT, r.code(), r.stderr());
            assertEquals(1, r.stderr().strip().lines().count(), r.stderr());
            assertTrue(r.stderr().contains(bad), r.stderr());
        }
    }
}
