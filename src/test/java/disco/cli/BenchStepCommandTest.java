package disco.cli;

import disco.util.ExitCodes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** `disco bench step`: a one-step JSON smoke run on the demo networks (not a timing) and its bad input. */
class BenchStepCommandTest {
    private final CliRun cli = new CliRun();

    @Test
    void demoStepInBothModesPrintsJson(@TempDir Path dir) throws Exception {
        Path settings = dir.resolve("s.json");
        Files.writeString(settings, "{\"text_prompts\": [\"a lighthouse\"], \"clip_models\": [\"ViT-tiny\"],"
                + " \"width_height\": [64, 64], \"steps\": 4, \"skip_steps\": 1, \"cutn_batches\": 2,"
                + " \"cut_overview\": \"[1]*1000\", \"cut_innercut\": \"[1]*1000\", \"use_secondary_model\": false}");
        int rc = cli.run("bench", "step", "--demo", "--settings", settings.toString(), "--steps", "1", "--mode",
                "dd", "--json", "--clip-batch", "all"); // the CPU default (auto) is one call per cutn batch
        
        assertEquals(ExitCodes.OK, rc, cli.stderr());
        JsonNode j = new ObjectMapper().readTree(cli.stdout());
        assertTrue(j.get("equivalent").asBoolean(), cli.stdout());
        assertEquals(1, j.get("modes").get("fast").get("mean_counts").get("unet_forwards").asDouble());
        assertEquals(2, j.get("modes").get("dd").get("mean_counts").get("unet_forwards").asDouble());
        assertEquals(1, j.get("modes").get("fast").get("mean_counts").get("clip_calls").asDouble(), "merged batches");
        assertEquals(2, j.get("modes").get("dd").get("mean_counts").get("clip_calls").asDouble(), "one call per batch");
        assertTrue(cli.stderr().contains("bench: step 1/1"), cli.stderr());
        assertEquals("all", j.get("options").get("clip_batch").asText());
    }

    @Test
    void badInputNamesTheOption(@TempDir Path dir) {
        assertEquals(ExitCodes.BAD_INPUT, cli.run("bench", "step", "--demo", "--mode", "slow"));
        assertTrue(cli.stderr().contains("--mode: expected fast or dd, got 'slow'"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("bench", "step", "--demo", "--precision", "fp8"));
        assertTrue(cli.stderr().contains("--precision: expected fp32, fp16 or bf16, got 'fp8'"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("bench", "step", "--demo", "--steps", "0"));
        assertEquals(ExitCodes.BAD_INPUT, cli.run("bench", "step", "--reference", dir.resolve("none").toString()));
        assertTrue(cli.stderr().contains("expected a directory"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("bench", "step", "--reference", dir.toString(), "--settings",
                dir.resolve("x.json").toString()));
        assertTrue(cli.stderr().contains("--settings: expected together with --demo"), cli.stderr());
        assertEquals(ExitCodes.BAD_INPUT, cli.run("bench", "step", "--reference", dir.toString()));
        assertTrue(cli.stderr().contains("settings.json: expected a file"), cli.stderr());
    }
}
