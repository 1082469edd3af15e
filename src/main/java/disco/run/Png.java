package disco.run;

import disco.util.AtomicFiles;
import disco.util.DiscoException;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOInvalidTreeException;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/** PNG files with text metadata (tEXt chunks), written atomically through javax.imageio. */
public final class Png {
    static {
        // no ImageIO disk cache: it writes temp files outside the run directory, and its shutdown hook
        // (StreamCloser) throws when the JVM exits during a write (a second Ctrl-C)
        ImageIO.setUseCache(false);
    }

    /** The tEXt keyword under which the resolved settings (JSON, ASCII-escaped) are stored. */
    public static final String SETTINGS_KEY = disco.settings.SettingsIO.PNG_SETTINGS_KEY;

    private Png() {}

    /**
     * Writes {@code image} to {@code file} (temp + rename) with one tEXt chunk per entry of {@code text}. tEXt is
     * Latin-1: values are expected to be ASCII (the settings JSON is written with non-ASCII escaped).
     */
    public static void write(Path file, RgbImage image, Map<String, String> text) throws IOException {
        BufferedImage img = image.toBufferedImage();
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("png");
        if (!writers.hasNext()) throw new IllegalStateException("no PNG writer in this JRE");
        ImageWriter writer = writers.next();
        try {
            ImageWriteParam param = writer.getDefaultWriteParam();
            IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), param);
            if (!text.isEmpty()) {
                String fmt = "javax_imageio_png_1.0";
                IIOMetadataNode root = new IIOMetadataNode(fmt);
                IIOMetadataNode tEXt = new IIOMetadataNode("tEXt");
                for (Map.Entry<String, String> e : text.entrySet()) {
                    for (char ch : e.getValue().toCharArray()) {
                        if (ch > 0xff) throw new IllegalArgumentException("tEXt value of " + e.getKey() + " is not Latin-1");
                    }
                    IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                    entry.setAttribute("keyword", e.getKey());
                    entry.setAttribute("value", e.getValue());
                    tEXt.appendChild(entry);
                }
                root.appendChild(tEXt);
                try {
                    meta.mergeTree(fmt, root);
                } catch (IIOInvalidTreeException ex) {
                    throw new IllegalStateException("PNG metadata rejected: " + ex.getMessage(), ex);
                }
            }
            IIOMetadata finalMeta = meta;
            AtomicFiles.write(file, out -> {
                try (ImageOutputStream ios = ImageIO.createImageOutputStream(out)) {
                    writer.setOutput(ios);
                    writer.write(null, new IIOImage(img, null, finalMeta), param);
                    ios.flush();
                }
            });
        } finally {
            writer.dispose();
        }
    }

    /** The tEXt (and zTXt/iTXt) entries of a PNG, in file order. */
    public static Map<String, String> readText(Path file) {
        Map<String, String> out = new LinkedHashMap<>();
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) throw DiscoException.badInput(file + ": cannot open");
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw DiscoException.badInput(file + ": not an image ImageIO can read");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, false);
                IIOMetadata meta = reader.getImageMetadata(0);
                org.w3c.dom.Node root = meta.getAsTree("javax_imageio_png_1.0");
                for (org.w3c.dom.Node n = root.getFirstChild(); n != null; n = n.getNextSibling()) {
                    String name = n.getNodeName();
                    if (!name.equals("tEXt") && !name.equals("iTXt") && !name.equals("zTXt")) continue;
                    for (org.w3c.dom.Node e = n.getFirstChild(); e != null; e = e.getNextSibling()) {
                        var attrs = e.getAttributes();
                        String key = attrs.getNamedItem("keyword").getNodeValue();
                        var valueNode = attrs.getNamedItem(name.equals("iTXt") ? "text" : name.equals("zTXt") ? "text" : "value");
                        out.put(key, valueNode == null ? "" : valueNode.getNodeValue());
                    }
                }
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read PNG metadata (" + e.getMessage() + ")", e);
        }
        return out;
    }

    /** Reads an 8-bit RGB PNG written by {@link #write} (or any image; see {@link ImageLoading} for PIL's rules). */
    public static RgbImage read(Path file) {
        return ImageLoading.readRgb(file);
    }

}
