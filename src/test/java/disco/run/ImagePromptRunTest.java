package disco.run;

import disco.cli.DemoCommand;
import disco.settings.Settings;
import disco.torch.Torch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** DD's image prompts in a whole run (demo networks): they join the targets and change the image. */
class ImagePromptRunTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private Path writeImage(String name, int w, int h) throws Exception {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) img.setRGB(x, y, ((x * 5) & 0xff) << 16 | ((y * 7) & 0xff) << 8 | ((x * y) & 0xff));
        }
        Path f = tmp.resolve(name);
        ImageIO.write(img, "png", f.toFile());
        return f;
    }

    private byte[] run(Settings s, String dir) {
        ResolvedSettings r = ResolvedSettings.of(s);
        Pipeline.Networks nets = ModelLoader.demo(s);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        RunLoop.Result res;
        try (Pipeline engine = Pipeline.forSettings(s, nets, PerfOptions.defaults(), new Device(torch.DeviceType.CPU), m -> {})) {
            res = new RunLoop(new PrintStream(err)).run(new RunLoop.Spec(r.settings(), r.json(), tmp.resolve(dir), null), engine);
        }
        assertTrue(res.complete(), err.toString());
        return ImageLoading.readRgb(res.images().get(0)).rgb();
    }

    private static Settings demo(List<String> set) {
        List<String> all = new ArrayList<>(List.of("skip_augs=true", "steps=3", "skip_steps=1"));
        all.addAll(set);
        return DemoCommand.settings(null, 5L, null, all);
    }

    @Test
    void anImagePromptChangesTheRunAndReproduces() throws Exception {
        Path img = writeImage("prompt.png", 90, 70);
        byte[] plain = run(demo(List.of()), "plain");
        Settings withImage = demo(List.of("image_prompts=['" + img + ":3']"));
        assertEquals(List.of(img + ":3"), withImage.imagePrompts());
        byte[] a = run(withImage, "a");
        byte[] b = run(withImage, "b");
        assertFalse(Arrays.equals(plain, a), "the image prompt must guide the run");
        assertArrayEquals(a, b, "the image prompt's cut draws are keyed: the same run twice is the same image");
    }

    @Test
    void targetsAreTheTextThenSixteenPerImageWithDdsWeights() throws Exception {
        Path img = writeImage("p.png", 64, 96);
        Settings s = demo(List.of("image_prompts=['" + img + ":2']"));
        Pipeline.Networks nets = ModelLoader.demo(s);
        try (Pipeline p = Pipeline.forSettings(s, nets, PerfOptions.defaults(), new Device(torch.DeviceType.CPU), m -> {})) {
            Pipeline.Targets t = p.targetsFor(7);
            int texts = s.textPrompts().size();
            for (String model : s.clipModels()) {
                Tensor e = t.embeds().get(model);
                assertEquals(texts + ImagePrompts.CUTN, e.size(0));
                // the text rows are the text targets, unchanged
                float[] all = disco.torch.Tensors.toFloats(e);
                float[] text = disco.torch.Tensors.toFloats(p.targets().embeds().get(model));
                assertArrayEquals(text, Arrays.copyOf(all, text.length));
            }
            // demo prompts weigh 2 and 1, the image 2: [2, 1, 2/16 x 16] / 5
            float[] w = disco.torch.Tensors.toFloats(t.weights());
            assertEquals(texts + 16, w.length);
            assertEquals(2f / 5, w[0], 1e-7);
            assertEquals(1f / 5, w[1], 1e-7);
            for (int i = texts; i < w.length; i++) assertEquals(2f / 16 / 5, w[i], 1e-7);
            // another batch seed draws other cutouts: other embeddings
            float[] e7 = disco.torch.Tensors.toFloats(t.embeds().get("RN-tiny"));
            float[] e8 = disco.torch.Tensors.toFloats(p.targetsFor(8).embeds().get("RN-tiny"));
            assertFalse(Arrays.equals(e7, e8));
            assertSame(t, p.targetsFor(7));
        }
    }

    @Test
    void drawsFollowMakeCutoutsBounds() {
        ImagePrompts.Draws d = ImagePrompts.random(ImagePrompts.stream(3, "RN-tiny", 0));
        for (int i = 0; i < 200; i++) {
            ImagePrompts.Cut c = d.draw(i, 32, 96, 112, 96);
            assertTrue(c.size() >= 32 && c.size() <= 96, c.toString());
            assertTrue(c.offsetX() >= 0 && c.offsetX() + c.size() <= 112, c.toString());
            assertTrue(c.offsetY() >= 0 && c.offsetY() + c.size() <= 96, c.toString());
        }
        // torchvision's short-side rule: the short side to s, the long side int(s * long / short)
        assertArrayEquals(new int[] {80, 64}, ImagePrompts.shortSide(100, 80, 64));
        assertArrayEquals(new int[] {64, 85}, ImagePrompts.shortSide(90, 120, 64));
    }
}
