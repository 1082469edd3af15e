package disco.cli;

import disco.util.ExitCodes;
import disco.run.Checkpoint;
import disco.run.ImageLoading;
import disco.run.Png;
import disco.run.ResolvedSettings;
import disco.torch.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code disco demo / run / resume} in-process on the built-in tiny models (3 executed steps), and as a subprocess
 * interrupted with SIGINT.
 */
class RunCommandsTest {
    @TempDir
    Path tmp;

    /** The demo shortened to 2 executed steps (UNet guidance at the first, the secondary model at the second). */
    static final String[] SHORT = {"--steps", "3", "--set", "skip_steps=1", "--set", "use_secondary_model=[False]*600+[True]*400"};

    static String[] demo(Path out, String... more) {
        return demo(SHORT, out, more);
    }

    /** Three executed steps: SIGINT during the second leaves a step to resume whatever the signal's latency. */
    static final String[] SHORT3 = {"--steps", "4", "--set", "skip_steps=1", "--set", "use_secondary_model=[False]*600+[True]*400"};

    static String[] demo(String[] base, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("demo", "--out", out.toString()));
        a.addAll(Arrays.asList(base));
        a.addAll(Arrays.asList(more));
        return a.toArray(String[]::new);
    }

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void demoWritesPngAndSettingsAndReproduces() throws Exception {
        CliRun.Result a = CliRun.exec(demo(tmp.resolve("a")));
        assertEquals(0, a.code(), a.stderr());
        Path png = tmp.resolve("a/demo/demo(0)_0.png");
        assertEquals(png.toString(), a.stdout().strip());
        Path settings = tmp.resolve("a/demo/demo(0)_settings.json");
        assertTrue(Files.exists(settings));
        assertTrue(a.stderr().contains("step 2/2"), a.stderr());
        ResolvedSettings r = ResolvedSettings.fromJson(Files.readString(settings), settings.toString());
        assertEquals(2022L, r.settings().seed());
        assertEquals(r.json(), ResolvedSettings.fromJson(Png.readText(png).get(Png.SETTINGS_KEY), "png").json());

        // the saved settings run again with `disco run`: the same image (same seed, same settings)
        CliRun.Result c = CliRun.exec("run", "--settings", settings.toString(), "--out", tmp.resolve("c").toString());
        assertEquals(0, c.code(), c.stderr());
        assertArrayEquals(ImageLoading.readRgb(png).rgb(), ImageLoading.readRgb(tmp.resolve("c/demo/demo(0)_0.png")).rgb());
        // another seed, another image
        CliRun.Result d = CliRun.exec(demo(tmp.resolve("d"), "--seed", "7"));
        assertEquals(0, d.code(), d.stderr());
        assertFalse(Arrays.equals(ImageLoading.readRgb(png).rgb(), ImageLoading.readRgb(tmp.resolve("d/demo/demo(0)_0.png")).rgb()));
    }

    @Test
    void badInputIsOneLineExit2AndWritesNothing() throws Exception {
        Path out = tmp.resolve("out");
        Path models = tmp.resolve("models");
        Files.createDirectories(models);
        // a model file that is not there: names the file and the fetch command
        CliRun.Result a = CliRun.exec("run", "--prompt", "a cat", "--clip-model", "ViT-B/32", "--steps", "10", "--size", "64x64",
                "--set", "diffusion_model=demo", "--model-dir", models.toString(), "--out", out.toString());
        assertEquals(2, a.code());
        String line = a.stderr().strip();
        assertEquals(1, line.lines().count(), line);
        assertTrue(line.contains(models.resolve("ViT-B-32.pt").toString()) || line.contains(models.toString()), line);
        assertTrue(line.contains("disco models fetch") && line.contains("ViT-B/32"), line);
        // an init image that cannot be read
        Path junk = tmp.resolve("junk.png");
        Files.writeString(junk, "not an image");
        CliRun.Result b = CliRun.exec(demo(out, "--set", "init_image=" + junk));
        assertEquals(2, b.code());
        assertTrue(b.stderr().strip().startsWith("disco: " + junk), b.stderr());
        // a size the model cannot take
        CliRun.Result c = CliRun.exec(demo(out, "--set", "width_height=[32, 64]"));
        assertEquals(2, c.code());
        assertTrue(c.stderr().contains("width_height"), c.stderr());
        // a device that is not there (this machine has no CUDA)
        if (!org.bytedeco.pytorch.global.torch.cuda_is_available()) {
            CliRun.Result d = CliRun.exec(demo(out, "--device", "cuda"));
            assertEquals(2, d.code());
            assertTrue(d.stderr().contains("--device cuda"), d.stderr());
        }
        CliRun.Result e = CliRun.exec("resume", tmp.resolve("nope.zip").toString());
        assertEquals(2, e.code());
        assertTrue(e.stderr().contains("nope.zip"));
        assertFalse(Files.exists(out), "nothing written for bad input");
    }

    @Test
    void sigintToTheProcessThenResumeGivesTheUninterruptedImage() throws Exception {
        // uninterrupted, in-process. Every side with the same LibTorch thread count: an earlier test may have left
        // this JVM at another one, and a different split of LibTorch's reductions rounds differently
        String[] threads = {"--threads", "2"};
        CliRun.Result full = CliRun.exec(demo(SHORT3, tmp.resolve("full"), threads));
        assertEquals(0, full.code(), full.stderr());
        // a subprocess `disco demo`, SIGINT once the first step is done
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xss8m", "-cp", System.getProperty("java.class.path"), "disco.cli.Main"));
        cmd.addAll(Arrays.asList(demo(SHORT3, tmp.resolve("int"), threads)));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        Process p = pb.start();
        StringBuilder err = new StringBuilder();
        try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String l;
            boolean sent = false;
            while ((l = r.readLine()) != null) {
                err.append(l).append('\n');
                if (!sent && l.contains("step 1/3")) {
                    new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
                    sent = true;
                }
            }
        }
        int code = p.waitFor();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(ExitCodes.INTERRUPTED, code, err.toString());
        assertEquals("", stdout.strip());
        Path ck = tmp.resolve("int/demo/demo(0)_checkpoint.zip");
        assertTrue(err.toString().contains("disco resume '" + ck + "'"), "a hint to paste, shell-quoted: " + err);
        assertFalse(Files.exists(tmp.resolve("int/demo/demo(0)_0.png")));
        int next = Checkpoint.read(ck).nextStep();
        assertTrue(next == 1 || next == 2, "stopped after the step in flight: " + next);

        CliRun.Result res = CliRun.exec("resume", ck.toString(), "--threads", "2");
        assertEquals(0, res.code(), res.stderr());
        assertArrayEquals(ImageLoading.readRgb(tmp.resolve("full/demo/demo(0)_0.png")).rgb(),
                ImageLoading.readRgb(tmp.resolve("int/demo/demo(0)_0.png")).rgb());
    }

    /**
     * The preview workflow with `disco resume`: resuming a stopped demo with --set makes a variant (its own batch
     * number and files, a record of the change) and leaves the run's checkpoint; the run then finishes in place; a
     * copy of its checkpoint resumed afterwards is stale and refused unless --force.
     */
    @Test
    void resumeWithChangesMakesAVariantAndAStaleCheckpointIsRefused() throws Exception {
        Path out = tmp.resolve("v");
        CliRun.Result a = CliRun.exec(demo(SHORT3, out, "--stop-at", "1"));
        assertEquals(0, a.code(), a.stderr());
        Path dir = out.resolve("demo");
        Path ck = dir.resolve("demo(0)_checkpoint.zip");
        Path copy = tmp.resolve("copy.zip");
        Files.copy(ck, copy);
        CliRun.Result v = CliRun.exec("resume", ck.toString(), "--set", "clamp_max=0.5");
        assertEquals(0, v.code(), v.stderr());
        assertEquals(dir.resolve("demo(1)_0.png").toString(), v.stdout().strip());
        assertTrue(Files.exists(ck), "the run's own checkpoint stays");
        assertFalse(Files.exists(dir.resolve("demo(0)_0.png")));
        assertTrue(Files.readString(dir.resolve("demo(1)_variant.json")).contains("clamp_max=0.5"));
        // the variant's settings are the changed ones; the run's keep those it started with
        assertNotEquals(Files.readString(dir.resolve("demo(0)_settings.json")), Files.readString(dir.resolve("demo(1)_settings.json")));
        assertEquals(3, disco.run.StepLog.read(dir.resolve("demo(1)_log.jsonl")).size());
        byte[] variant = Files.readAllBytes(dir.resolve("demo(1)_0.png"));

        CliRun.Result f = CliRun.exec("resume", ck.toString());
        assertEquals(0, f.code(), f.stderr());
        assertEquals(dir.resolve("demo(0)_0.png").toString(), f.stdout().strip());
        assertFalse(Files.exists(ck), "a finished run's checkpoint is removed");
        assertArrayEquals(variant, Files.readAllBytes(dir.resolve("demo(1)_0.png")));
        assertFalse(Arrays.equals(ImageLoading.readRgb(dir.resolve("demo(0)_0.png")).rgb(), ImageLoading.readRgb(dir.resolve("demo(1)_0.png")).rgb()));

        Files.copy(copy, ck);
        long mtime = Files.getLastModifiedTime(dir.resolve("demo(0)_0.png")).toMillis();
        CliRun.Result stale = CliRun.exec("resume", ck.toString());
        assertEquals(2, stale.code(), stale.stderr());
        assertEquals(1, stale.stderr().strip().lines().count(), stale.stderr());
        assertTrue(stale.stderr().contains("stale checkpoint") && stale.stderr().contains("--force"), stale.stderr());
        assertEquals(mtime, Files.getLastModifiedTime(dir.resolve("demo(0)_0.png")).toMillis());
        CliRun.Result forced = CliRun.exec("resume", ck.toString(), "--force");
        assertEquals(0, forced.code(), forced.stderr());
    }
}
