package disco.run;

import disco.util.DiscoException;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads PNG / JPEG / BMP / GIF files into 8-bit RGB the way DD's {@code Image.open(f).convert('RGB')} does:
 * alpha is dropped (not composited), gray is replicated to three channels, palettes are looked up, and 16-bit
 * samples keep their high byte. Raster samples are read directly (never through {@code getRGB} colour-space
 * conversion, which would alter gray images).
 *
 * <p>Not bit-exact with PIL for JPEG: Java's decoder and libjpeg may differ by ±1 in a few pixels (IDCT and chroma
 * upsampling); PNGs are exact.
 */
public final class ImageLoading {
    private ImageLoading() {}

    public static RgbImage readRgb(Path file) {
        return readRgb(file, "init image");
    }

    /** {@link #readRgb(Path)} with the setting the file comes from named in the errors ("image prompt", ...). */
    public static RgbImage readRgb(Path file, String what) {
        if (!Files.isRegularFile(file)) throw DiscoException.badInput(file + ": " + what + " not found (expected a PNG or JPEG file)");
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw DiscoException.badInput(file + ": cannot decode the " + what + " (" + e.getMessage() + "); expected a PNG or JPEG file", e);
        }
        if (img == null) throw DiscoException.badInput(file + ": " + what + ": not an image format that can be read (expected PNG or JPEG)");
        return toRgb(img, file.toString());
    }

    public static RgbImage toRgb(BufferedImage img, String name) {
        int w = img.getWidth(), h = img.getHeight();
        byte[] out = new byte[w * h * 3];
        Raster r = img.getRaster();
        int bands = r.getNumBands();
        boolean direct = img.getColorModel() instanceof ComponentColorModel;
        int type = r.getDataBuffer().getDataType();
        if (direct && (type == DataBuffer.TYPE_BYTE || type == DataBuffer.TYPE_USHORT) && bands >= 1) {
            int shift = type == DataBuffer.TYPE_USHORT ? 8 : 0;
            int[] px = new int[bands];
            boolean gray = bands <= 2;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    r.getPixel(x, y, px);
                    int o = (y * w + x) * 3;
                    if (gray) {
                        byte g = (byte) (px[0] >> shift);
                        out[o] = g;
                        out[o + 1] = g;
                        out[o + 2] = g;
                    } else {
                        out[o] = (byte) (px[0] >> shift);
                        out[o + 1] = (byte) (px[1] >> shift);
                        out[o + 2] = (byte) (px[2] >> shift);
                    }
                }
            }
        } else if (img.getColorModel() instanceof IndexColorModel
                || img.getType() == BufferedImage.TYPE_INT_RGB || img.getType() == BufferedImage.TYPE_INT_ARGB
                || img.getType() == BufferedImage.TYPE_INT_BGR || img.getType() == BufferedImage.TYPE_3BYTE_BGR
                || img.getType() == BufferedImage.TYPE_4BYTE_ABGR) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int argb = img.getRGB(x, y);
                    int o = (y * w + x) * 3;
                    out[o] = (byte) (argb >> 16);
                    out[o + 1] = (byte) (argb >> 8);
                    out[o + 2] = (byte) argb;
                }
            }
        } else {
            throw DiscoException.badInput(name + ": unsupported image layout (" + bands + " bands, colour model "
                    + img.getColorModel().getClass().getSimpleName() + "); expected an RGB, gray or palette PNG/JPEG");
        }
        return new RgbImage(w, h, out);
    }
}
