package disco.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** `disco bench step`: a one-step JSON smoke run on the demo networks (not a timing) and its bad input. */
class BenchStepCommandTest {
    private static int run(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        PrintStream o = System.out, e = System.err;
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            return Main.commandLine().execute(args);
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    @Test
    void demoStepInBothModesPrintsJson(@TempDir Path dir) throws Exception {
        Path settings = dir.resolve("s.json");
        Files.writeString(settings, "{\"text_prompts\": [\"a lighthouse\"], \"clip_models\": [\"ViT-tiny\"],"
                + " \"width_height\": [64, 64], \"steps\": 4, \"skip_steps\": 1, \"cutn_batches\": 2,"
                + " \"cut_overview\": \"[1]*1000\", \"cut_innercut\": \"[1]*1000\", \"use_secondary_model\": false}");
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int rc = run(out, err, "bench", "step", "--demo", "--settings", settings.toString(), "--steps", "1", "--mode",
                "dd", "--json");
        assertEquals(ExitCodes.OK, rc, err.toString());
        JsonNode j = new ObjectMapper().readTree(out.toString());
        assertTrue(j.get("equivalent").asBoolean(), out.toString());
        assertEquals(1, j.get("modes").get("fast").get("mean_counts").get("unet_forwards").asDouble());
        assertEquals(2, j.get("modes").get("dd").get("mean_counts").get("unet_forwards").asDouble());
        assertEquals(1, j.get("modes").get("fast").get("mean_counts").get("clip_calls").asDouble(), "merged batches");
        assertEquals(2, j.get("modes").get("dd").get("mean_counts").get("clip_calls").asDouble(), "one call per batch");
        assertTrue(err.toString().contains("bench: step 1/1"), err.toString());
    }

    @Test
    void badInputNamesTheOption(@TempDir Path dir) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(ExitCodes.BAD_INPUT, run(out, err, "bench", "step", "--demo", "--mode", "slow"));
        assertTrue(err.toString().contains("--mode: expected fast or dd, got 'slow'"), err.toString());
        assertEquals(ExitCodes.BAD_INPUT, run(out, err, "bench", "step", "--demo", "--precision", "fp8"));
        assertTrue(err.toString().contains("--precision: expected fp32, fp16 or bf16, got 'fp8'"), err.toString());
        assertEquals(ExitCodes.BAD_INPUT, run(out, err, "bench", "step", "--demo", "--steps", "0"));
        assertEquals(ExitCodes.BAD_INPUT, run(out, err, "bench", "step", "--reference", dir.resolve("none").toString()));
        assertTrue(err.toString().contains("expected a directory"), err.toString());
        assertEquals(ExitCodes.BAD_INPUT, run(out, err, "bench", "step", "--reference", dir.toString(), "--settings",
                dir.resolve("x.json").toString()));
        assertTrue(err.toString().contains("--settings: expected together with --demo"), err.toString());
        assertEquals(ExitCodes.BAD_INPUT, run(out, err, "bench", "step", "--reference", dir.toString()));
        assertTrue(err.toString().contains("settings.json: expected a file"), err.toString());
    }
}
