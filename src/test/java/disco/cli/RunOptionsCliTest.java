package disco.cli;

import disco.util.ExitCodes;
import com.fasterxml.jackson.databind.JsonNode;
import disco.run.StepLog;
import disco.torch.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The performance options as a user gives them: honoured and recorded, or refused with one line. */
class RunOptionsCliTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void bf16DemoWritesAnImageAndTheLogRecordsTheOptions() throws Exception {
        CliRun.Result r = CliRun.exec(RunCommandsTest.demo(tmp, "--precision", "bf16", "--clip-batch", "1",
                "--unet-checkpointing"));
        assertEquals(0, r.code(), r.stderr());
        Path png = tmp.resolve("demo/demo(0)_0.png");
        assertTrue(Files.isRegularFile(png), r.stdout());
        List<JsonNode> log = StepLog.read(tmp.resolve("demo/demo(0)_log.jsonl"));
        JsonNode o = log.get(0).get("options");
        assertEquals("bf16", o.get("precision").asText());
        assertEquals("1", o.get("clip_batch").asText());
        assertTrue(o.get("unet_checkpointing").asBoolean());
        assertFalse(log.get(1).has("options"), "only the first line of a batch names the options");
    }

    @Test
    void fp16OnTheCpuIsOneLineExit2AndWritesNothing() throws Exception {
        CliRun.Result r = CliRun.exec(RunCommandsTest.demo(tmp.resolve("out"), "--precision", "fp16"));
        assertEquals(ExitCodes.BAD_INPUT, r.code());
        assertEquals(1, r.stderr().strip().lines().count(), r.stderr());
        assertTrue(r.stderr().startsWith("disco: --precision fp16:"), r.stderr());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void badClipBatchAndChannelsLastNameTheOption() {
        CliRun.Result a = CliRun.exec(RunCommandsTest.demo(tmp.resolve("o1"), "--clip-batch", "0"));
        assertEquals(ExitCodes.BAD_INPUT, a.code());
        assertTrue(a.stderr().contains("--clip-batch"), a.stderr());
        CliRun.Result b = CliRun.exec(RunCommandsTest.demo(tmp.resolve("o2"), "--channels-last", "sideways"));
        assertEquals(ExitCodes.BAD_INPUT, b.code());
        assertTrue(b.stderr().contains("--channels-last"), b.stderr());
    }

    @Test
    void dryRunPrintsTheOptionsAndTheEstimateAndRunsNothing() {
        CliRun.Result r = CliRun.exec(RunCommandsTest.demo(tmp.resolve("dry"), "--dry-run", "--clip-batch", "2"));
        assertEquals(0, r.code(), r.stderr());
        assertTrue(r.stdout().contains("clip_batch=2"), r.stdout());
        assertTrue(r.stdout().contains("estimated peak memory on cpu:"), r.stdout());
        assertTrue(r.stdout().contains("on a 16 GB P100: fits as it is"), r.stdout());
        assertFalse(Files.exists(tmp.resolve("dry")));
    }

    /** diffusion_model_config's use_checkpoint turns UNet checkpointing on; use_fp16 is fp16 on CUDA only (DD's rule). */
    @Test
    void useCheckpointAndUseFp16FromTheDiffusionConfig() {
        CliRun.Result r = CliRun.exec(RunCommandsTest.demo(tmp.resolve("dry"), "--dry-run",
                "--set", "diffusion_model_config.use_checkpoint=true", "--set", "diffusion_model_config.use_fp16=true"));
        assertEquals(0, r.code(), r.stderr());
        assertTrue(r.stdout().contains("unet_checkpointing=true"), r.stdout());
        if (!org.bytedeco.pytorch.global.torch.cuda_is_available()) {
            assertTrue(r.stdout().contains("precision=fp32"), r.stdout());
            assertTrue(r.stderr().contains("diffusion_model_config.use_fp16: DD runs fp16 on CUDA only"), r.stderr());
        }
        CliRun.Result off = CliRun.exec(RunCommandsTest.demo(tmp.resolve("dry"), "--dry-run"));
        assertTrue(off.stdout().contains("unet_checkpointing=false"), off.stdout());
    }
}
