package disco.cli;

import disco.run.ImageLoading;
import disco.sweep.SweepState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * disco sweep end to end on the demo models (real UNet, CLIPs, native cutouts and losses; tiny and untrained), a few
 * steps at 64x64: each run's image equals `disco run` alone on its settings file (bitwise, CPU); a sweep process
 * killed with SIGKILL after its first finished run and started again completes with identical images.
 */
class SweepDemoTest {
    @TempDir
    Path tmp;
    private final CliRun cli = new CliRun();
    private int threads;

    @BeforeEach
    void oneThread() {
        // LibTorch's CPU results depend on its intra-op thread count in the last bit (reductions split differently),
        // and another test class may have changed it in this JVM: run everything here, and the killed subprocess,
        // with one thread
        disco.torch.Torch.init();
        threads = org.bytedeco.pytorch.global.torch.get_num_threads();
        org.bytedeco.pytorch.global.torch.set_num_threads(1);
    }

    @AfterEach
    void restoreThreads() {
        org.bytedeco.pytorch.global.torch.set_num_threads(threads);
    }

    static final List<String> NAMES = List.of("k=300", "k=700", "k=1000");

    private Path sweepFile() throws Exception {
        Path f = tmp.resolve("demo-sweep.yml");
        Files.writeString(f, """
                set:
                  diffusion_model: demo
                  text_prompts: ["a lighthouse:2", "yellow:1"]
                  clip_models: [RN-tiny, ViT-tiny]
                  width_height: [64, 64]
                  steps: 5
                  skip_steps: 1
                  cutn_batches: 1
                  cut_overview: "[2]*1000"
                  cut_innercut: "[1]*1000"
                  use_secondary_model: false
                  seed: 7
                  n_batches: 1
                  save_rate: 0
                  intermediate_saves: 1
                  clip_models_schedules.RN-tiny: "[True]*{k}+[False]*(1000-{k})"
                grid:
                  k: [300, 700, 1000]
                """);
        return f;
    }

    static byte[] pixels(Path png) {
        return ImageLoading.readRgb(png).rgb();
    }

    static Path image(Path dir, String name) {
        return dir.resolve(name).resolve(name + "(0)_0.png");
    }

    @Test
    void sweepRunsEqualRunsAloneAndSurviveSigkill() throws Exception {
        Path f = sweepFile();
        assertEquals(0, cli.run("sweep", f.toString(), "--dry-run"), cli.stderr());
        assertTrue(cli.stdout().contains("# steps: "), cli.stdout());
        var m = java.util.regex.Pattern.compile("# steps: (\\d+) executed as a tree vs (\\d+)").matcher(cli.stdout());
        assertTrue(m.find());
        assertTrue(Long.parseLong(m.group(1)) < Long.parseLong(m.group(2)), cli.stdout()); // prefixes are shared

        Path a = tmp.resolve("a");
        assertEquals(0, cli.run("sweep", f.toString(), "--out", a.toString()), cli.stderr());
        assertTrue(Files.exists(a.resolve("contact-sheet.png")));
        assertTrue(Files.exists(a.resolve("index.html")));
        // each run alone with `disco run` on the settings file the sweep wrote
        for (String n : NAMES) {
            Path settings = a.resolve(n).resolve(n + "(0)_settings.json");
            assertEquals(0, cli.run("run", "--settings", settings.toString(), "--out", tmp.resolve("alone").toString()), cli.stderr());
            assertArrayEquals(pixels(image(tmp.resolve("alone"), n)), pixels(image(a, n)), n);
        }

        // SIGKILL a sweep process after its first finished run, then start it again
        Path k = tmp.resolve("killed");
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-Xss8m",
                "-cp", System.getProperty("java.class.path"), "disco.cli.Main", "sweep", f.toString(), "--out", k.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("first.log").toFile());
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().put("MKL_NUM_THREADS", "1");
        Process p = pb.start();
        Path state = k.resolve("sweep.json");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        int done = 0;
        while (p.isAlive() && System.nanoTime() < deadline) {
            if (Files.exists(state)) {
                try {
                    done = (int) SweepState.open(state).entries().values().stream().filter(e -> e.status().equals("done")).count();
                } catch (RuntimeException partial) {
                    done = 0; // never half-written (atomic), but be safe
                }
                if (done >= 1) break;
            }
            Thread.sleep(50);
        }
        assertTrue(p.isAlive(), "the sweep finished before it could be killed: " + Files.readString(tmp.resolve("first.log")));
        p.destroyForcibly(); // SIGKILL
        p.waitFor(30, TimeUnit.SECONDS);
        assertEquals(137, p.exitValue());
        SweepState killed = SweepState.open(state);
        List<String> finished = new ArrayList<>();
        killed.entries().forEach((id, e) -> {
            if (e.status().equals("done")) finished.add(id.substring(0, id.indexOf('#')));
        });
        assertFalse(finished.isEmpty());
        List<Long> mtimes = new ArrayList<>();
        for (String n : finished) mtimes.add(Files.getLastModifiedTime(image(k, n)).toMillis());
        Thread.sleep(20);
        assertEquals(0, cli.run("sweep", f.toString(), "--out", k.toString()), cli.stderr());
        assertTrue(cli.stderr().contains(finished.size() + " already finished"), cli.stderr());
        for (String n : NAMES) assertArrayEquals(pixels(image(a, n)), pixels(image(k, n)), n);
        for (int i = 0; i < finished.size(); i++) {
            assertEquals(mtimes.get(i), Files.getLastModifiedTime(image(k, finished.get(i))).toMillis(), "rewritten: " + finished.get(i));
        }
        // a third start has nothing left to do
        assertEquals(0, cli.run("sweep", f.toString(), "--out", k.toString()), cli.stderr());
        assertTrue(cli.stderr().contains("0 steps executed for 0 trajectories"), cli.stderr());
    }

    /**
     * An absurd guidance scale (without the gradient clamp) makes the demo models' image collapse to saturated
     * colours while staying finite: the log marks the steps, stderr names the step and models, the index and the run's
     * page show it. k=0 and k=300 leave RN-tiny off on every executed step (schedule 599 on): the same runs, computed
     * once and marked as such.
     */
    @Test
    void aCollapsedRunIsMarkedAndTheSameRunsAreComputedOnce() throws Exception {
        Path f = tmp.resolve("collapse.yml");
        Files.writeString(f, """
                set:
                  diffusion_model: demo
                  text_prompts: ["a lighthouse:2"]
                  clip_models: [RN-tiny, ViT-tiny]
                  width_height: [64, 64]
                  steps: 5
                  skip_steps: 2
                  cutn_batches: 1
                  cut_overview: "[2]*1000"
                  cut_innercut: "[1]*1000"
                  use_secondary_model: false
                  clamp_grad: false
                  seed: 3
                  n_batches: 1
                  save_rate: 0
                  intermediate_saves: 1
                  clip_guidance_scale: "{g}"
                  clip_models_schedules.RN-tiny: "[True]*{k}+[False]*(1000-{k})"
                grid:
                  k: [0, 300]
                  g: [5000, 1000000000]
                """);
        assertEquals(0, cli.run("sweep", f.toString(), "--dry-run"), cli.stderr());
        assertTrue(cli.stdout().contains("# same run: k=0_g=5000 = k=300_g=5000 (identical executed plans: computed once)"), cli.stdout());
        assertTrue(cli.stdout().contains("# CLIP images encoded: RN-tiny 0, ViT-tiny 18 as a tree (RN-tiny 0, ViT-tiny 36 independent)"), cli.stdout());
        Path out = tmp.resolve("collapse");
        assertEquals(0, cli.run("sweep", f.toString(), "--out", out.toString()), cli.stderr());
        String err = cli.stderr();
        assertTrue(err.contains("disco: sweep: 6 steps executed for 4 trajectories (12 independent"), err);
        assertTrue(err.contains("k=0_g=1000000000: batch 0 step 1 (t=200, models ViT-tiny): the x0 prediction collapsed to saturated"), err);
        assertFalse(err.contains("k=0_g=5000: batch 0"), err);
        var log = disco.run.StepLog.read(out.resolve("k=0_g=1000000000").resolve("k=0_g=1000000000(0)_log.jsonl"));
        assertEquals("saturated", log.get(log.size() - 1).path("collapse").asText(), log.toString());
        assertTrue(disco.run.StepLog.read(out.resolve("k=0_g=5000").resolve("k=0_g=5000(0)_log.jsonl")).stream()
                .noneMatch(l -> l.has("collapse")));
        String html = Files.readString(out.resolve("index.html"));
        assertEquals(2, html.split("collapsed: saturated at step 1", -1).length - 1, html);
        assertTrue(html.contains("the same run as k=300_g=5000"), html);
        assertTrue(html.contains("<polyline"), html);
        assertTrue(Files.readString(out.resolve("k=0_g=1000000000").resolve("run.html")).contains("collapsed: saturated"));
        assertArrayEquals(pixels(image(out, "k=0_g=5000")), pixels(image(out, "k=300_g=5000")));
    }
}
