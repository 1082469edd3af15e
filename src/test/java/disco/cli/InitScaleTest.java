package disco.cli;

import disco.reference.Fixtures;
import disco.run.ImageLoading;
import disco.run.RgbImage;
import disco.run.Png;
import disco.torch.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** DD's {@code init_scale} (LPIPS towards the init image) changes the image; without the LPIPS files it is refused. */
class InitScaleTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private Path initImage() throws Exception {
        Path init = tmp.resolve("init.png");
        if (!Files.exists(init)) Png.write(init, image(80, 48), Map.of());
        return init;
    }

    /**
     * {@code disco run} with an init image, 2 executed steps with UNet guidance (the second step's guidance does not reach the image DD saves): the fixture's tiny UNet as a custom
     * diffusion model (the demo UNet would bring the demo LPIPS) and the demo CLIP.
     */
    private String[] run(Path out, Path models, String initScale) throws Exception {
        Path dir = Fixtures.referenceA().get();
        String config = Files.readString(dir.resolve("unet.json")).replace("\n", " ");
        List<String> a = new ArrayList<>(List.of("run", "--clip-model", "RN-tiny",
                "--set", "diffusion_model=" + dir.resolve("unet.pt"), "--set", "diffusion_model_config=" + config,
                "--size", "64x64", "--steps", "3", "--set", "skip_steps=1", "--set", "n_batches=1",
                "--set", "cutn_batches=1", "--set", "use_secondary_model=false", "--seed", "5",
                "--set", "init_image=" + initImage(), "--set", "init_scale=" + initScale, "--prompt", "a lighthouse",
                "--out", out.toString()));
        if (models != null) a.addAll(List.of("--model-dir", models.toString()));
        return a.toArray(String[]::new);
    }

    private static byte[] rgb(Path dir) {
        return ImageLoading.readRgb(dir.resolve("disco/disco(0)_0.png")).rgb();
    }

    @Test
    void demoInitScaleZeroAndThousandGiveDifferentImages() throws Exception {
        String[] base = {"demo", "--steps", "3", "--set", "skip_steps=1", "--set", "use_secondary_model=false",
                "--set", "init_image=" + initImage()};
        CliRun.Result a = CliRun.exec(concat(base, "--set", "init_scale=0", "--out", tmp.resolve("a").toString()));
        assertEquals(0, a.code(), a.stderr());
        CliRun.Result b = CliRun.exec(concat(base, "--set", "init_scale=1000", "--out", tmp.resolve("b").toString()));
        assertEquals(0, b.code(), b.stderr());
        byte[] ia = ImageLoading.readRgb(tmp.resolve("a/demo/demo(0)_0.png")).rgb();
        byte[] ib = ImageLoading.readRgb(tmp.resolve("b/demo/demo(0)_0.png")).rgb();
        assertFalse(Arrays.equals(ia, ib), "init_scale 0 and 1000 gave the same image");
    }

    @Test
    void runWithTheLpipsFilesInitScaleChangesTheImage() throws Exception {
        assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path dir = Fixtures.referenceA().get();
        Path models = tmp.resolve("models");
        Files.createDirectories(models);
        // the fixture's tiny LPIPS under the registry's file names (legacy torch format, like the real files)
        Files.copy(dir.resolve("lpips-vgg16.pth"), models.resolve("vgg16-397923af.pth"));
        Files.copy(dir.resolve("lpips-lin.pth"), models.resolve("vgg.pth"));
        CliRun.Result a = CliRun.exec(run(tmp.resolve("a"), models, "0"));
        assertEquals(0, a.code(), a.stderr());
        CliRun.Result b = CliRun.exec(run(tmp.resolve("b"), models, "1000"));
        assertEquals(0, b.code(), b.stderr());
        assertFalse(Arrays.equals(rgb(tmp.resolve("a")), rgb(tmp.resolve("b"))), "init_scale 0 and 1000 gave the same image");
    }

    @Test
    void missingLpipsFilesAreOneLineNamingThemAndTheFetchCommand() throws Exception {
        assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path models = tmp.resolve("empty");
        Files.createDirectories(models);
        Path out = tmp.resolve("out");
        CliRun.Result a = CliRun.exec(run(out, models, "1000"));
        assertEquals(2, a.code(), a.stderr());
        String line = a.stderr().strip();
        assertEquals(1, line.lines().count(), line);
        assertTrue(line.contains(models.resolve("vgg16-397923af.pth").toString())
                && line.contains(models.resolve("vgg.pth").toString()), line);
        assertTrue(line.contains("disco models fetch --model-dir " + models + " vgg16 lpips_vgg"), line);
        assertFalse(Files.exists(out), "nothing written");
        // the demo networks bring the demo LPIPS: no file needed
        CliRun.Result d = CliRun.exec("demo", "--set", "init_image=" + initImage(), "--model-dir", models.toString(),
                "--out", out.toString(), "--dry-run");
        assertEquals(0, d.code(), d.stderr());
        // init_scale 0 (at every step) needs no LPIPS: the networks load and the pipeline builds
        CliRun.Result b = CliRun.exec(concat(run(out, models, "0"), "--dry-run"));
        assertEquals(0, b.code(), b.stderr());
        // nor does a run without an init
        List<String> noInit = new ArrayList<>(Arrays.asList(run(tmp.resolve("n"), models, "1000")));
        int i = noInit.indexOf("init_image=" + initImage());
        noInit.remove(i);
        noInit.remove(i - 1);
        noInit.add("--dry-run");
        CliRun.Result c = CliRun.exec(noInit.toArray(String[]::new));
        assertEquals(0, c.code(), c.stderr());
    }

    /** A smooth colour image (something for LPIPS to compare with). */
    private static RgbImage image(int w, int h) {
        byte[] b = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) b[(y * w + x) * 3 + c] = (byte) ((x * 3 + y * 5 + c * 80) % 256);
        return new RgbImage(w, h, b);
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
