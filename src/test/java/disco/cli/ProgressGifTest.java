package disco.cli;

import disco.util.ExitCodes;
import disco.run.ImageLoading;
import disco.run.ProgressGif;
import disco.run.RgbImage;
import disco.torch.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A run's {@code progress.gif} (DiscoArt's {@code gif_fps}, {@code gif_size_ratio}): one frame per partial and the
 * final image, DiscoArt's delay {@code 1000 // gif_fps} ms, frames scaled by the ratio, looping forever; a preview
 * (--stop-at) writes it from its partials and the resumed run rewrites it with all frames; gif_fps 0 writes none;
 * bad values are one-line errors.
 */
class ProgressGifTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** What a GIF holds: frame sizes, delays (centiseconds) and the NETSCAPE2.0 loop count (-1: none). */
    record Gif(List<int[]> sizes, List<Integer> delays, int loops, List<BufferedImage> frames) {}

    static Gif read(Path f) throws Exception {
        ImageReader r = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(f.toFile())) {
            r.setInput(in, false);
            int n = r.getNumImages(true);
            List<int[]> sizes = new ArrayList<>();
            List<Integer> delays = new ArrayList<>();
            List<BufferedImage> frames = new ArrayList<>();
            int loops = -1;
            for (int i = 0; i < n; i++) {
                BufferedImage img = r.read(i);
                frames.add(img);
                sizes.add(new int[] {img.getWidth(), img.getHeight()});
                IIOMetadataNode root = (IIOMetadataNode) r.getImageMetadata(i).getAsTree("javax_imageio_gif_image_1.0");
                for (int c = 0; c < root.getLength(); c++) {
                    IIOMetadataNode node = (IIOMetadataNode) root.item(c);
                    if (node.getNodeName().equals("GraphicControlExtension")) {
                        delays.add(Integer.parseInt(node.getAttribute("delayTime")));
                    }
                    if (node.getNodeName().equals("ApplicationExtensions")) {
                        for (int a = 0; a < node.getLength(); a++) {
                            IIOMetadataNode app = (IIOMetadataNode) node.item(a);
                            if (app.getAttribute("applicationID").equals("NETSCAPE")
                                    && app.getAttribute("authenticationCode").equals("2.0")) {
                                byte[] b = (byte[]) app.getUserObject();
                                assertEquals(1, b[0], "NETSCAPE2.0 sub-block id");
                                loops = (b[1] & 0xff) | ((b[2] & 0xff) << 8);
                            }
                        }
                    }
                }
            }
            return new Gif(sizes, delays, loops, frames);
        } finally {
            r.dispose();
        }
    }

    private static RgbImage solid(int w, int h, int r, int g, int b) {
        byte[] p = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            p[3 * i] = (byte) r;
            p[3 * i + 1] = (byte) g;
            p[3 * i + 2] = (byte) b;
        }
        return new RgbImage(w, h, p);
    }

    @Test
    void framesDelayLoopAndSize() throws Exception {
        Path f = tmp.resolve("p.gif");
        List<RgbImage> frames = List.of(solid(40, 20, 255, 0, 0), solid(40, 20, 0, 255, 0), solid(40, 20, 0, 0, 255));
        ProgressGif.write(f, frames, 20, 0.5); // DiscoArt's defaults: 50 ms a frame, half size
        Gif g = read(f);
        assertEquals(3, g.sizes().size());
        for (int[] s : g.sizes()) assertArrayEquals(new int[] {20, 10}, s);
        assertEquals(List.of(5, 5, 5), g.delays());
        assertEquals(0, g.loops(), "loops forever");
        assertEquals(0xff0000, g.frames().get(0).getRGB(3, 3) & 0xffffff);
        assertEquals(0x00ff00, g.frames().get(1).getRGB(3, 3) & 0xffffff);
        assertEquals(0x0000ff, g.frames().get(2).getRGB(3, 3) & 0xffffff);
        // 1000 // 30 = 33 ms -> 3 cs; 1000 // 7 = 142 ms -> 14 cs; ratio 1 keeps the size; int(w * ratio), at least 1
        assertEquals(3, ProgressGif.delayCentiseconds(30));
        assertEquals(14, ProgressGif.delayCentiseconds(7));
        assertEquals(13, ProgressGif.scaled(40, 0.33));
        assertEquals(1, ProgressGif.scaled(3, 0.01));
        ProgressGif.write(f, frames.subList(0, 1), 1, 1.0);
        Gif one = read(f);
        assertArrayEquals(new int[] {40, 20}, one.sizes().get(0));
        assertEquals(List.of(100), one.delays());
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(f), s.toList(), "written through a temp file, nothing left beside it");
        }
    }

    private static final String[] RUN = {"--steps", "7", "--set", "skip_steps=1", "--set", "save_rate=2", "--set",
            "intermediate_saves=0", "--set", "use_secondary_model=false", "--set", "gif_fps=10", "--set", "gif_size_ratio=0.5"};

    private String[] demo(Path out, String... more) {
        return RunCommandsTest.demo(RUN, out, more);
    }

    @Test
    void aRunAndAPreviewWriteTheirProgressGif() throws Exception {
        // 6 executed steps, save_rate 2: partials at steps 0, 2, 4, then the final image
        CliRun.Result a = CliRun.exec(demo(tmp.resolve("a")));
        assertEquals(0, a.code(), a.stderr());
        Path dir = tmp.resolve("a/demo");
        Gif g = read(dir.resolve("progress.gif"));
        RgbImage fin = ImageLoading.readRgb(dir.resolve("demo(0)_0.png"));
        assertEquals(4, g.sizes().size());
        assertEquals(List.of(10, 10, 10, 10), g.delays()); // 1000 // 10 = 100 ms
        assertEquals(0, g.loops());
        for (int[] s : g.sizes()) assertArrayEquals(new int[] {fin.width() / 2, fin.height() / 2}, s);

        // a preview stopped after 3 steps: partials at 0 and 2 (the stop step is a save step)
        CliRun.Result p = CliRun.exec(demo(tmp.resolve("p"), "--stop-at", "3"));
        assertEquals(0, p.code(), p.stderr());
        Path pdir = tmp.resolve("p/demo");
        assertEquals(2, read(pdir.resolve("progress.gif")).sizes().size());
        // finished with resume: all partials and the final image
        CliRun.Result r = CliRun.exec("resume", p.stdout().strip());
        assertEquals(0, r.code(), r.stderr());
        Gif rg = read(pdir.resolve("progress.gif"));
        assertEquals(4, rg.sizes().size());
        // the resumed run's frames are the straight run's (the same trajectory)
        for (int i = 0; i < 4; i++) {
            int[] ra = new int[g.sizes().get(i)[0] * g.sizes().get(i)[1]], rb = ra.clone();
            g.frames().get(i).getRGB(0, 0, g.sizes().get(i)[0], g.sizes().get(i)[1], ra, 0, g.sizes().get(i)[0]);
            rg.frames().get(i).getRGB(0, 0, g.sizes().get(i)[0], g.sizes().get(i)[1], rb, 0, g.sizes().get(i)[0]);
            assertArrayEquals(ra, rb, "frame " + i);
        }

        // gif_fps 0: DiscoArt writes no GIF
        CliRun.Result z = CliRun.exec(demo(tmp.resolve("z"), "--set", "gif_fps=0"));
        assertEquals(0, z.code(), z.stderr());
        assertTrue(Files.exists(tmp.resolve("z/demo/demo(0)_0.png")));
        assertFalse(Files.exists(tmp.resolve("z/demo/progress.gif")));
    }

    @Test
    void badGifSettingsAreOneLineErrors() {
        for (String[] bad : new String[][] {{"gif_fps=-1", "gif_fps"}, {"gif_size_ratio=0", "gif_size_ratio"},
                {"gif_size_ratio=1.5", "gif_size_ratio"}, {"gif_fps=2.5", "gif_fps"}}) {
            CliRun.Result r = CliRun.exec(demo(tmp.resolve("bad"), "--set", bad[0]));
            assertEquals(ExitCodes.BAD_INPUT, r.code(), bad[0] + ": " + r.stderr());
            assertEquals(1, r.stderr().strip().lines().count(), r.stderr());
            assertTrue(r.stderr().contains(bad[1]), r.stderr());
        }
        assertFalse(Files.exists(tmp.resolve("bad")), "nothing written");
    }
}
