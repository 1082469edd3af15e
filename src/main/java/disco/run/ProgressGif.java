package disco.run;

import disco.util.AtomicFiles;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A run's {@code progress.gif}: DiscoArt's progress GIF ({@code gif_fps}, {@code gif_size_ratio}). DiscoArt collects
 * the image of every save step of a batch and writes them with docarray's {@code save_gif}: each frame
 * {@code 1000 // gif_fps} ms (GIF delays are centiseconds: PIL writes {@code duration // 10}), resized by
 * {@code gif_size_ratio} ({@code int(w * ratio)} x {@code int(h * ratio)}, PIL's bicubic filter), looping forever
 * (the NETSCAPE2.0 extension, loop count 0); no GIF when {@code gif_fps} is 0. Here the frames are the batch's
 * partials in step order, then its final images (or the image a stopped run kept as its last partial); with
 * {@code batch_size > 1} each frame is the batch as a grid, as {@code progress.png} shows it. DiscoArt's frame
 * index drawn on each frame is left out.
 */
public final class ProgressGif {
    private ProgressGif() {}

    /** The GIF's frame delay in centiseconds for DiscoArt's {@code gif_fps} ({@code (1000 // fps) // 10}). */
    public static int delayCentiseconds(int fps) {
        if (fps <= 0) throw new IllegalArgumentException("gif_fps: expected > 0, found " + fps);
        return (1000 / fps) / 10;
    }

    /** A frame's size for DiscoArt's {@code gif_size_ratio}: {@code int(side * ratio)}, at least 1. */
    public static int scaled(int side, double ratio) {
        return Math.max(1, (int) (side * ratio));
    }

    /** Writes {@code frames} (same size) as a looping GIF to {@code file}, atomically (a temp file, then a rename). */
    public static void write(Path file, List<RgbImage> frames, int fps, double ratio) throws IOException {
        if (frames.isEmpty()) throw new IllegalArgumentException("no frames");
        int w = scaled(frames.get(0).width(), ratio), h = scaled(frames.get(0).height(), ratio);
        int delay = delayCentiseconds(fps);
        AtomicFiles.write(file, out -> encode(out, frames, w, h, delay));
    }

    private static void encode(OutputStream out, List<RgbImage> frames, int w, int h, int delay) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
        try (ImageOutputStream ios = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(ios);
            writer.prepareWriteSequence(null);
            for (int i = 0; i < frames.size(); i++) {
                RgbImage f = frames.get(i);
                RgbImage small = f.width() == w && f.height() == h ? f : PilResize.resize(f, w, h, PilResize.Filter.BICUBIC);
                BufferedImage img = toBuffered(small);
                ImageWriteParam param = writer.getDefaultWriteParam();
                IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), param);
                String fmt = meta.getNativeMetadataFormatName();
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(fmt);
                IIOMetadataNode gce = child(root, "GraphicControlExtension");
                gce.setAttribute("disposalMethod", "none");
                gce.setAttribute("userInputFlag", "FALSE");
                gce.setAttribute("transparentColorFlag", "FALSE");
                gce.setAttribute("delayTime", Integer.toString(delay));
                gce.setAttribute("transparentColorIndex", "0");
                if (i == 0) {
                    IIOMetadataNode apps = child(root, "ApplicationExtensions");
                    IIOMetadataNode app = new IIOMetadataNode("ApplicationExtension");
                    app.setAttribute("applicationID", "NETSCAPE");
                    app.setAttribute("authenticationCode", "2.0");
                    app.setUserObject(new byte[] {1, 0, 0}); // sub-block 1, loop count 0 (little endian): forever
                    apps.appendChild(app);
                }
                meta.setFromTree(fmt, root);
                writer.writeToSequence(new IIOImage(img, null, meta), param);
            }
            writer.endWriteSequence();
        } finally {
            writer.dispose();
        }
    }

    private static IIOMetadataNode child(IIOMetadataNode root, String name) {
        for (int i = 0; i < root.getLength(); i++) {
            if (root.item(i).getNodeName().equalsIgnoreCase(name)) return (IIOMetadataNode) root.item(i);
        }
        IIOMetadataNode n = new IIOMetadataNode(name);
        root.appendChild(n);
        return n;
    }

    private static BufferedImage toBuffered(RgbImage im) {
        BufferedImage b = new BufferedImage(im.width(), im.height(), BufferedImage.TYPE_INT_RGB);
        byte[] p = im.rgb();
        int[] row = new int[im.width()];
        for (int y = 0; y < im.height(); y++) {
            for (int x = 0; x < im.width(); x++) {
                int i = (y * im.width() + x) * 3;
                row[x] = ((p[i] & 0xff) << 16) | ((p[i + 1] & 0xff) << 8) | (p[i + 2] & 0xff);
            }
            b.setRGB(0, y, im.width(), 1, row, 0, im.width());
        }
        return b;
    }

    /**
     * Batch {@code b}'s frames from the run's files: its partials in the order of the step each records (the PNG's
     * {@code step} text), then {@code last} (the final images, or none), each step's images as a grid.
     */
    public static List<RgbImage> frames(RunOutputs outs, int b, int batchSize, List<RgbImage> last) {
        String prefix = String.format("_%04d-", b);
        // step -> the batch's images there, by index k
        TreeMap<Integer, TreeMap<Integer, Path>> byStep = new TreeMap<>();
        for (Path f : outs.partials()) {
            String n = f.getFileName().toString();
            int at = n.lastIndexOf(prefix);
            if (at < 0) continue;
            int k = 0;
            if (batchSize > 1) {
                int us = n.lastIndexOf('_');
                if (us <= at) continue;
                try {
                    k = Integer.parseInt(n.substring(us + 1, n.length() - 4));
                } catch (NumberFormatException e) {
                    continue;
                }
            }
            Map<String, String> text = Png.readText(f);
            Integer step = parseInt(text.get("step"));
            if (step == null) continue;
            byStep.computeIfAbsent(step, s -> new TreeMap<>()).put(k, f);
        }
        List<RgbImage> frames = new ArrayList<>();
        for (TreeMap<Integer, Path> imgs : byStep.values()) {
            if (imgs.size() != batchSize) continue; // a step with part of the batch (not written by this engine)
            List<RgbImage> batch = new ArrayList<>();
            for (Path f : imgs.values()) batch.add(ImageLoading.readRgb(f));
            frames.add(grid(batch));
        }
        if (last != null && !last.isEmpty()) frames.add(grid(last));
        return frames;
    }

    private static RgbImage grid(List<RgbImage> batch) {
        return batch.size() == 1 ? batch.get(0) : RgbImage.grid(batch, (int) Math.ceil(Math.sqrt(batch.size())));
    }

    private static Integer parseInt(String s) {
        if (s == null) return null;
        try {
            return Integer.parseInt(s.strip());
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
