package disco.sweep;

import disco.run.ImageLoading;
import disco.run.RgbImage;
import disco.torch.Torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * index.html of a small executed sweep — with loss and gradient curves, two cells that are the same run and collapsed
 * cells — and a run's page open in headless Chromium without errors, and a screenshot shows the grid.
 */
class SweepIndexChromiumTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void torch() {
        Torch.init();
    }

    static String chromium() {
        for (String c : new String[] {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}) {
            for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
                if (Files.isExecutable(Path.of(dir, c))) return Path.of(dir, c).toString();
            }
        }
        return null;
    }

    @Test
    void indexOpensInHeadlessChromium() throws Exception {
        String browser = chromium();
        Assumptions.assumeTrue(browser != null, "no chromium on PATH (apt-get install -y chromium): index.html not opened");
        SweepDef d = new SweepDef.Builder()
                .template("text_prompts=[a lighthouse]").template("clip_models=[RN-tiny, ViT-tiny]")
                .template("steps=6").template("skip_steps=1").template("width_height=[64, 64]")
                .template("n_batches=1").template("save_rate=2").template("intermediate_saves=0")
                .template("clip_models_schedules.RN-tiny=[True]*{s1}+[False]*(1000-{s1})")
                .template("clip_models_schedules.ViT-tiny=[False]*(1000-{s2})+[True]*{s2}")
                // s1=1000, s2=1000: an absurd guidance scale that saturates the image
                .template("clip_guidance_scale={5000 + (s1 // 1000) * (s2 // 1000) * 1000000000000}")
                // the executed steps start at schedule 333: s1=0 and s1=200 are the same run
                .grid("s1=0,200,500,1000").grid("s2=0:1000:500").where("s1 + s2 >= 1000").build();
        List<SweepRun> runs = d.runs(4L);
        PrefixTree tree = PrefixTree.of(runs);
        Path out = tmp.resolve("sweep dir"); // a space: links must be encoded
        SweepState st = SweepState.open(out.resolve("sweep.json"));
        st.bind(SweepDef.digest(runs), 4L);
        new SweepExecutor(out, FakeEngine::new, new PrintStream(new ByteArrayOutputStream())).execute(tree.trajectories(), st);
        SweepReport.write(out, d, runs, tree);

        String html = Files.readString(out.resolve("index.html"));
        assertTrue(html.contains("<polyline"), "curves drawn");
        assertTrue(html.contains("the same run as s1=200_s2=1000"), "duplicates marked");
        assertTrue(html.contains("collapsed: saturated"), "collapse marked");
        Path shot = tmp.resolve("index.png");
        RgbImage img = screenshot(browser, out.resolve("index.html"), shot, "index");
        // the grid's images are there: many distinct colours, not a blank page
        assertTrue(colours(img) > 500, "screenshot has " + colours(img) + " colours");
        Path runShot = tmp.resolve("run.png");
        RgbImage run = screenshot(browser, out.resolve("s1=500_s2=1000").resolve("run.html"), runShot, "run");
        assertTrue(colours(run) > 200, "run page screenshot has " + colours(run) + " colours");
        String keep = System.getenv("DISCO_SWEEP_SCREENSHOT"); // to look at it: DISCO_SWEEP_SCREENSHOT=DIR
        if (keep != null) {
            Files.createDirectories(Path.of(keep));
            Files.copy(shot, Path.of(keep, "index.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(out.resolve("contact-sheet.png"), Path.of(keep, "contact-sheet.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(runShot, Path.of(keep, "run.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Opens a page in headless Chromium: no console error, no missing resource; returns the screenshot. */
    private RgbImage screenshot(String browser, Path page, Path shot, String profile) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(browser, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--no-first-run", "--user-data-dir=" + tmp.resolve("profile-" + profile),
                "--enable-logging=stderr", "--v=0", "--window-size=1200,1000", "--screenshot=" + shot,
                page.toUri().toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] log;
        try (var in = p.getInputStream()) {
            log = in.readAllBytes();
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium did not finish");
        String text = new String(log, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), text);
        // the page's own errors (a missing image, a script error) are logged as console messages
        for (String line : text.lines().toList()) {
            assertFalse(line.contains("CONSOLE") || line.contains("Failed to load resource") || line.contains("ERR_FILE_NOT_FOUND"),
                    page + ": page error: " + line);
        }
        assertTrue(Files.size(shot) > 0, text);
        return ImageLoading.readRgb(shot);
    }

    private static int colours(RgbImage img) {
        java.util.Set<Integer> colours = new java.util.HashSet<>();
        for (int i = 0; i + 2 < img.rgb().length; i += 3 * 7) {
            colours.add(((img.rgb()[i] & 0xff) << 16) | ((img.rgb()[i + 1] & 0xff) << 8) | (img.rgb()[i + 2] & 0xff));
        }
        return colours.size();
    }
}
