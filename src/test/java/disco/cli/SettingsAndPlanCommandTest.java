package disco.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The settings and plan commands end to end (in process), on the README's example files. */
class SettingsAndPlanCommandTest {
    @TempDir
    Path tmp;
    private CliRun.Result last = new CliRun.Result(-1, "", "");

    private int run(String... args) {
        last = CliRun.exec(args);
        return last.code();
    }

    private String stdout() {
        return last.stdout();
    }

    private String stderr() {
        return last.stderr();
    }

    private static long countActive(JsonNode plan, String model) {
        long n = 0;
        for (JsonNode s : plan) {
            for (JsonNode a : s.get("active")) if (a.asText().equals(model)) n++;
        }
        return n;
    }

    @Test
    void settingsOutputLoadsBackToTheSameSettings() throws IOException {
        for (String f : new String[] {"examples/two-models.yml", "examples/windows.json",
                "examples/TimeToDisco(0)_settings.txt", "src/test/resources/discoart.yml"}) {
            assertEquals(0, run("settings", "--settings", f, "--set", "tv_scale=[10]*500+[0]*500"), stderr());
            Path printed = tmp.resolve("printed.json");
            Files.writeString(printed, stdout());
            Settings original = SettingsIO.load(Paths.get(f), null).settings();
            Settings back = SettingsIO.load(printed, null).settings();
            assertEquals("[10]*500+[0]*500", back.scheduleSource(disco.settings.Scheduled.TV_SCALE));
            assertEquals(original.clipModels(), back.clipModels(), f);
            assertEquals(0, run("settings", "--settings", printed.toString()), stderr());
            Files.writeString(tmp.resolve("again.json"), stdout());
            assertEquals(back, SettingsIO.load(tmp.resolve("again.json"), null).settings(), f);
            assertEquals("", stderr(), "a printed settings file loads without warnings");
        }
    }

    @Test
    void planJsonForTheBlogsExperiment() throws IOException {
        assertEquals(0, run("plan", "--settings", "examples/two-models.yml", "--json"), stderr());
        JsonNode plan = new ObjectMapper().readTree(stdout());
        assertEquals(240, plan.size());
        assertEquals(90, countActive(plan, "RN50"));
        assertEquals(200, countActive(plan, "ViT-L/14"));
        long both = 0;
        for (JsonNode s : plan) if (s.get("active").size() == 2) both++;
        assertEquals(50, both);
        assertFalse(stderr().contains("warning"), stderr());
        for (String k : new String[] {"step", "index", "t", "sched_index", "active", "overview", "innercut", "ic_pow",
                "icgray_p"}) {
            assertTrue(plan.get(0).has(k), k);
        }
    }

    @Test
    void planWarnsAboutUncoveredSteps() {
        assertEquals(0, run("plan", "--settings", "examples/two-models-gap.yml"));
        assertTrue(stderr().contains("50 of 240 steps (schedule 203\u2013399) have no CLIP model: no CLIP guidance there"),
                stderr());
        assertTrue(stdout().contains("RN50: on 40 of 240 steps"), stdout());
        assertTrue(stdout().contains("ViT-L/14: on 150 of 240 steps"), stdout());
        // the same experiment from flags only
        assertEquals(0, run("plan", "--json", "--clip-model", "RN50,ViT-L/14", "--steps", "250", "--skip-steps", "10",
                "--schedule", "RN50=[True]*200+[False]*800", "--schedule", "ViT-L/14=[False]*400+[True]*600"));
        assertTrue(stderr().contains("50 of 240 steps"), stderr());
    }

    @Test
    void ddAndDiscoArtFilesPlan() {
        assertEquals(0, run("plan", "--settings", "examples/TimeToDisco(0)_settings.txt"), stderr());
        assertTrue(stdout().contains("ViT-B/32: on 240 of 240 steps"), stdout());
        assertEquals(0, run("plan", "--settings", "src/test/resources/discoart.yml"), stderr());
        assertTrue(stdout().contains("RN50::openai: on 175 of 250 steps"), stdout());
    }

    @Test
    void badInputExitsWithTwoAndOneLine() throws IOException {
        Path f = tmp.resolve("bad.yml");
        Files.writeString(f, "cut_overview: '[4]*400+[2'\n");
        assertEquals(ExitCodes.BAD_INPUT, run("plan", "--settings", f.toString()));
        String e = stderr().strip();
        assertFalse(e.contains("\n"), e);
        assertTrue(e.startsWith("disco: " + f + ": cut_overview: syntax error at column 11"), e);
        assertEquals(ExitCodes.BAD_INPUT, run("settings", "--steps", "10", "--skip-steps", "10"));
        assertTrue(stderr().contains("command line: skip_steps"), stderr());
        assertEquals(ExitCodes.BAD_INPUT, run("plan", "--schedule", "RN101=True"));
        assertTrue(stderr().contains("'RN101' is not one of clip_models"), stderr());
        assertEquals(ExitCodes.BAD_INPUT, run("plan", "--set", "novalue"));
        assertTrue(stderr().contains("--set: expected KEY=VALUE"), stderr());
        assertEquals(ExitCodes.BAD_INPUT, run("plan", "--steps", "1"));
        assertTrue(stderr().contains("command line: steps: expected at least 2"), stderr());
        assertEquals(ExitCodes.BAD_INPUT, run("settings", "--settings", tmp.resolve("missing.yml").toString()));
        assertTrue(stderr().contains("cannot read"), stderr());
    }
}
