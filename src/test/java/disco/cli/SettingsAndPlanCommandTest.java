package disco.cli;

import disco.util.ExitCodes;
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
    private final CliRun cli = new CliRun();

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
                "examples/TimeToDisco(0)_settings.txt", "src/test/resources/discoart.yml", "examples/prompts-v1.yml"}) {
            assertEquals(0, cli.run("settings", "--settings", f, "--set", "tv_scale=[10]*500+[0]*500"), cli.stderr());
            Path printed = tmp.resolve("printed.json");
            Files.writeString(printed, cli.stdout());
            Settings original = SettingsIO.load(Paths.get(f), null).settings();
            Settings back = SettingsIO.load(printed, null).settings();
            assertEquals("[10]*500+[0]*500", back.scheduleSource(disco.settings.Scheduled.TV_SCALE));
            assertEquals(original.clipModels(), back.clipModels(), f);
            assertEquals(0, cli.run("settings", "--settings", printed.toString()), cli.stderr());
            Files.writeString(tmp.resolve("again.json"), cli.stdout());
            assertEquals(back, SettingsIO.load(tmp.resolve("again.json"), null).settings(), f);
            assertEquals("", cli.stderr(), "a printed settings file loads without warnings");
        }
    }

    @Test
    void planJsonForTheBlogsExperiment() throws IOException {
        assertEquals(0, cli.run("plan", "--settings", "examples/two-models.yml", "--json"), cli.stderr());
        JsonNode plan = new ObjectMapper().readTree(cli.stdout());
        assertEquals(240, plan.size());
        assertEquals(90, countActive(plan, "RN50"));
        assertEquals(200, countActive(plan, "ViT-L/14"));
        long both = 0;
        for (JsonNode s : plan) if (s.get("active").size() == 2) both++;
        assertEquals(50, both);
        assertFalse(cli.stderr().contains("warning"), cli.stderr());
        for (String k : new String[] {"step", "index", "t", "sched_index", "active", "overview", "innercut", "ic_pow",
                "icgray_p"}) {
            assertTrue(plan.get(0).has(k), k);
        }
    }

    @Test
    void planShowsV1PromptsAndTheCutSchedules() throws IOException {
        assertEquals(0, cli.run("plan", "--settings", "examples/prompts-v1.yml"), cli.stderr());
        String out = cli.stdout();
        // RN50 is scheduled from entry 200; 'yellow color scheme' (prompt 2) guides it from entry 100
        assertTrue(out.contains("ViT-B/32(0,3)"), out);
        assertTrue(out.contains("RN50: steps 0-9 (schedule 19-199): off"), out);
        assertTrue(out.contains("ViT-B/32: steps 0-14 (schedule 19-299): prompts 0 (10 -> 0.98095703125),"
                + " 3 (-2 -> -0.1961669921875)"), out);
        assertTrue(out.contains("RN50: steps 20-49 (schedule 419-999): prompts 0 (6 -> 0.85693359375),"
                + " 1 (3 -> 0.428466796875), 2 (2 -> 0.28564453125)"), out);
        // cut_schedules_group: watercolor
        assertTrue(out.contains("cut_overview: [14]*200+[12]*200+[4]*400+[0]*200"), out);
        assertEquals(0, cli.run("plan", "--settings", "examples/prompts-v1.yml", "--json"), cli.stderr());
        JsonNode plan = new ObjectMapper().readTree(cli.stdout());
        JsonNode vit = plan.get(0).get("prompts").get("ViT-B/32");
        assertEquals("[0,3]", vit.get("prompt_ids").toString());
        assertEquals(0.98095703125, vit.get("weights").get(0).asDouble());
        assertEquals(14, plan.get(0).get("overview").asInt());
        // the group from the command line replaces the file's
        assertEquals(0, cli.run("plan", "--settings", "examples/prompts-v1.yml", "--set", "cut_schedules_group=pad_or_pulp"),
                cli.stderr());
        assertTrue(cli.stdout().contains("cut_overview: [15]*100+[15]*100+"), cli.stdout());
    }

    @Test
    void planWarnsAboutUncoveredSteps() {
        assertEquals(0, cli.run("plan", "--settings", "examples/two-models-gap.yml"));
        assertTrue(cli.stderr().contains("50 of 240 steps (schedule 203\u2013399) have no CLIP model: no CLIP guidance there"),
                cli.stderr());
        assertTrue(cli.stdout().contains("RN50: on 40 of 240 steps"), cli.stdout());
        assertTrue(cli.stdout().contains("ViT-L/14: on 150 of 240 steps"), cli.stdout());
        // every model off at once; the cost: 4 batches; RN50 16 cutouts at 40 steps, ViT-L/14 at 150 (x4 batches)
        assertTrue(cli.stderr().contains("every CLIP model switches off at once at step 40 (schedule 203): RN50 was on at step 39"),
                cli.stderr());
        assertTrue(cli.stdout().contains("# cost: 960 executed steps (240 per batch x 4 batches); CLIP images encoded: RN50 10240, ViT-L/14 38400"),
                cli.stdout());
        // a run that starts with no CLIP model
        assertEquals(0, cli.run("plan", "--clip-model", "RN50", "--steps", "100", "--skip-steps", "0",
                "--schedule", "RN50=[False]*500+[True]*500"));
        assertTrue(cli.stderr().contains("the run starts with no CLIP model: steps 0\u2013"), cli.stderr());
        assertFalse(cli.stderr().contains("switches off"), cli.stderr());
        // --estimate loads the networks and prints the engine's memory estimate (the demo networks: nothing to download)
        assertEquals(0, cli.run("plan", "--settings", "src/main/resources/disco/run/demo-settings.json", "--estimate"), cli.stderr());
        assertTrue(cli.stdout().contains("# memory: estimated peak ") && cli.stdout().contains("# memory: on a 40 GB A100: fits as it is"),
                cli.stdout());
        assertEquals(2, cli.run("plan", "--settings", "src/main/resources/disco/run/demo-settings.json", "--model-dir", "/tmp"));
        // the same experiment from flags only
        assertEquals(0, cli.run("plan", "--json", "--clip-model", "RN50,ViT-L/14", "--steps", "250", "--skip-steps", "10",
                "--schedule", "RN50=[True]*200+[False]*800", "--schedule", "ViT-L/14=[False]*400+[True]*600"));
        assertTrue(cli.stderr().contains("50 of 240 steps"), cli.stderr());
    }

    @Test
    void ddAndDiscoArtFilesPlan() {
        assertEquals(0, cli.run("plan", "--settings", "examples/TimeToDisco(0)_settings.txt"), cli.stderr());
        assertTrue(cli.stdout().contains("ViT-B/32: on 240 of 240 steps"), cli.stdout());
        assertEquals(0, cli.run("plan", "--settings", "src/test/resources/discoart.yml"), cli.stderr());
        assertTrue(cli.stdout().contains("RN50::openai: on 175 of 250 steps"), cli.stdout());
    }

    @Test
    void badInputExitsWithTwoAndOneLine() throws IOException {
        Path f = tmp.resolve("bad.yml");
        Files.writeString(f, "cut_overview: '[4]*400+[2'\n");
        assertEquals(ExitCodes.BAD_INPUT, cli.run("plan", "--settings", f.toString()));
        String e = cli.stderr().strip();
        assertFalse(e.contains("\n"), e);
        assertTrue(e.startsWith("disco: " + f + ": cut_overview: syntax error at column 11"), e);
        assertEquals(ExitCodes.BAD_INPUT, cli.run("settings", "--steps", "10", "--skip-steps", "10"));
        assertTrue(cli.stderr().contains("command line: skip_steps"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("plan", "--schedule", "RN101=True"));
        assertTrue(cli.stderr().contains("'RN101' is not one of clip_models"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("plan", "--set", "novalue"));
        assertTrue(cli.stderr().contains("--set: expected KEY=VALUE"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("plan", "--steps", "1"));
        assertTrue(cli.stderr().contains("command line: steps: expected at least 2"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("settings", "--settings", tmp.resolve("missing.yml").toString()));
        assertTrue(cli.stderr().contains("cannot read"), cli.stderr());
    }

    /**
     * settings, plan, verify-reference, usage and both error handlers write through picocli's writers: captured
     * with System.out / System.err left alone (what went to those streams would be missing here).
     */
    @Test
    void theseCommandsWriteThroughTheCommandLinesWriters() {
        CliRun.Result settings = CliRun.execThroughWriters("settings", "--settings", "examples/two-models.yml");
        assertEquals(0, settings.code(), settings.stderr());
        assertTrue(settings.stdout().strip().startsWith("{") && settings.stdout().contains("clip_models"), settings.stdout());
        CliRun.Result plan = CliRun.execThroughWriters("plan", "--settings", "examples/two-models.yml");
        assertEquals(0, plan.code(), plan.stderr());
        assertTrue(plan.stdout().contains("executed steps") && plan.stdout().contains("# models"), plan.stdout());
        CliRun.Result json = CliRun.execThroughWriters("plan", "--settings", "examples/two-models.yml", "--json");
        assertTrue(json.stdout().strip().startsWith("[") && json.stderr().contains("# models"), json.stderr());
        CliRun.Result missing = CliRun.execThroughWriters("verify-reference", tmp.resolve("nope").toString());
        assertEquals(ExitCodes.BAD_INPUT, missing.code());
        assertTrue(missing.stderr().startsWith("disco: ") && missing.stderr().contains("not a directory"), missing.stderr());
        CliRun.Result unknown = CliRun.execThroughWriters("plan", "--no-such-flag");
        assertEquals(ExitCodes.BAD_INPUT, unknown.code());
        assertTrue(unknown.stderr().contains("--no-such-flag") && unknown.stderr().contains("--help"), unknown.stderr());
        CliRun.Result bare = CliRun.execThroughWriters();
        assertEquals(ExitCodes.BAD_INPUT, bare.code());
        assertTrue(bare.stderr().contains("Usage: disco"), bare.stderr());
    }
}
