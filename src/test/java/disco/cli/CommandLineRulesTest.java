package disco.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.run.Png;
import disco.torch.Torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** One behaviour per input across commands: the same flag means the same in plan, run, resume and sweep. */
class CommandLineRulesTest {
    @TempDir
    Path tmp;

    @Test
    void dottedScheduleKeysAreTheScheduleFlagEverywhere() {
        String[] base = {"plan", "--clip-model", "RN50,ViT-B/32", "--steps", "50"};
        CliRun.Result viaSchedule = CliRun.exec(concat(base, "--schedule", "RN50=0-10%"));
        CliRun.Result viaSet = CliRun.exec(concat(base, "--set", "clip_models_schedules.RN50=0-10%"));
        CliRun.Result without = CliRun.exec(base);
        assertEquals(0, viaSet.code(), viaSet.stderr());
        assertEquals(viaSchedule.stdout(), viaSet.stdout());
        assertEquals("", viaSet.stderr(), "honoured, so no warning");
        assertNotEquals(without.stdout(), viaSet.stdout(), "the schedule changes the plan");
        assertTrue(viaSet.stdout().contains("RN50: on 5 of 50 steps"), viaSet.stdout());
        // the sweep reads it the same way
        CliRun.Result sweep = CliRun.exec("sweep", "--clip-model", "RN50,ViT-B/32", "--steps", "50", "--grid", "a=1,2",
                "--set", "tv_scale={a}", "--set", "clip_models_schedules.RN50=0-10%", "--dry-run", "--out",
                tmp.resolve("s").toString());
        assertEquals(0, sweep.code(), sweep.stderr());
        assertTrue(sweep.stdout().contains("RN50 5 steps (0-4)"), sweep.stdout());
    }

    @Test
    void lowercaseBooleansInSchedulableKeys() {
        CliRun.Result r = CliRun.exec("settings", "--set", "use_secondary_model=false", "--set", "clamp_grad=[true]*1000");
        assertEquals(0, r.code(), r.stderr());
        assertTrue(r.stdout().contains("\"use_secondary_model\" : \"false\"") || r.stdout().contains("\"use_secondary_model\" : false"),
                r.stdout());
        CliRun.Result p = CliRun.exec("plan", "--steps", "10", "--set", "use_secondary_model=false", "--json");
        assertEquals(0, p.code(), p.stderr());
        assertFalse(p.stdout().contains("\"use_secondary_model\" : true"), p.stdout());
    }

    @Test
    void resumeContinuesInTheCheckpointsOwnDirectoryWithTheChangedSchedule() throws Exception {
        Torch.init();
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Path ck = BadInputTest.checkpoint(tmp.resolve("in"), "moved", m -> {
            m.put("run_dir", elsewhere.toString()).put("next_step", 7);
            ((com.fasterxml.jackson.databind.node.ObjectNode) m.get("ints")).put("steps_done", 7);
        }, BadInputTest.demoJson(), Map.of());
        CliRun.Result r = CliRun.exec("resume", ck.toString(), "--schedule", "RN-tiny=0-10%");
        assertEquals(0, r.code(), r.stderr());
        Path png = ck.getParent().resolve("demo(0)_0.png");
        assertEquals(png.toString(), r.stdout().strip());
        assertTrue(r.stderr().contains("run_dir " + elsewhere + " is not the checkpoint's directory"), r.stderr());
        try (var s = Files.list(elsewhere)) {
            assertEquals(List.of(), s.toList(), "nothing written at the run_dir the checkpoint names");
        }
        JsonNode settings = new ObjectMapper().readTree(Png.readText(png).get(Png.SETTINGS_KEY));
        assertEquals("0-10%", settings.path("clip_models_schedules").path("RN-tiny").asText(), settings.toString());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
