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

    /**
     * The browser, or the test is skipped when there is none — unless {@value #REQUIRE_ENV}=1 (CI sets it, after
     * {@code .ci/chromium.sh install}): then a missing browser fails the test.
     */
    static String requireChromium() {
        String browser = chromium();
        if (browser == null && "1".equals(System.getenv(REQUIRE_ENV))) {
            fail(REQUIRE_ENV + "=1 but no chromium on PATH (.ci/chromium.sh install)");
        }
        Assumptions.assumeTrue(browser != null, "no chromium on PATH (.ci/chromium.sh install): index.html not opened");
        return browser;
    }

    static final String REQUIRE_ENV = "DISCO_CHROMIUM_TEST";

    /** The console check below sees a page's errors: a script error, console.error and a missing image are reported. */
    @Test
    void consoleCheckSeesPageErrors() throws Exception {
        String browser = requireChromium();
        Path page = tmp.resolve("broken.html");
        Files.writeString(page, "<!doctype html><html><body><p>x</p><img src=\"missing.png\">"
                + "<script>console.error('disco-test-error'); undefinedFunction();</script></body></html>");
        String log = open(browser, page, tmp.resolve("broken.png"), "broken");
        List<String> errors = pageErrors(log);
        assertFalse(errors.isEmpty(), "a broken page's errors were not seen in chromium's log:\n" + log);
        assertTrue(errors.stream().anyMatch(l -> l.contains("disco-test-error")), errors.toString());
        assertTrue(errors.stream().anyMatch(l -> l.contains("undefinedFunction")), errors.toString());
        // Chromium does not log a missing file:// image: the pages' local links are checked on disk instead
        assertEquals(List.of("missing.png"), missingLinks(page));
    }

    /** The page's relative src/href targets (URL-decoded, without #fragment or ?query) that are not files on disk. */
    static List<String> missingLinks(Path page) throws Exception {
        String html = Files.readString(page);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?:src|href)=\"([^\"]*)\"").matcher(html);
        List<String> missing = new ArrayList<>();
        while (m.find()) {
            String link = m.group(1).replace("&amp;", "&");
            if (link.isEmpty() || link.startsWith("#") || link.startsWith("data:") || link.matches("^[a-z]+:.*")) continue;
            link = link.replaceAll("[#?].*$", "");
            String file = java.net.URLDecoder.decode(link.replace("+", "%2B"), StandardCharsets.UTF_8);
            if (!Files.exists(page.getParent().resolve(file))) missing.add(link);
        }
        return missing;
    }

    @Test
    void indexOpensInHeadlessChromium() throws Exception {
        String browser = requireChromium();
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
        String text = open(browser, page, shot, profile);
        for (String line : pageErrors(text)) fail(page + ": page error: " + line);
        assertEquals(List.of(), missingLinks(page), page + ": links to files that are not there");
        assertTrue(Files.size(shot) > 0, text);
        return ImageLoading.readRgb(shot);
    }

    /** The lines of chromium's log that report the page's own errors (console messages, resources not loaded). */
    static List<String> pageErrors(String log) {
        return log.lines().filter(line -> line.contains("CONSOLE") || line.contains("Failed to load resource")
                || line.contains("ERR_FILE_NOT_FOUND")).toList();
    }

    /** Runs headless Chromium on a page (a fresh profile, console messages logged to stderr); returns its log. */
    private String open(String browser, Path page, Path shot, String profile) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(browser, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--user-data-dir=" + tmp.resolve("profile-" + profile),
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
        return text;
    }

    private static int colours(RgbImage img) {
        java.util.Set<Integer> colours = new java.util.HashSet<>();
        for (int i = 0; i + 2 < img.rgb().length; i += 3 * 7) {
            colours.add(((img.rgb()[i] & 0xff) << 16) | ((img.rgb()[i + 1] & 0xff) << 8) | (img.rgb()[i + 2] & 0xff));
        }
        return colours.size();
    }
}
