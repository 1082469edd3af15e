package disco.run;

import java.awt.image.BufferedImage;

/**
 * An 8-bit RGB image held as interleaved bytes (row-major, 3 bytes per pixel, as PIL's "RGB" mode stores it
 * without the padding byte). Immutable by convention: the pixel array is not copied on access.
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("empty image " + width + "x" + height);
        if (rgb.length != width * height * 3) {
            throw new IllegalArgumentException("expected " + width * height * 3 + " bytes, got " + rgb.length);
        }
    }

    /** Channel {@code c} of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xff;
    }

    /**
     * DD's conversion of a model-space image {@code [3, H, W]} in [-1, 1] (CHW, float32) to 8 bits:
     * {@code TF.to_pil_image(x.add(1).div(2).clamp(0, 1))}, i.e. float32 {@code (x + 1) / 2}, clamped, times 255,
     * truncated to a byte (torch's {@code .byte()} cast). NaN becomes 0.
     */
    public static RgbImage fromModelSpace(float[] chw, int offset, int width, int height) {
        int plane = width * height;
        byte[] out = new byte[plane * 3];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                float v = (chw[offset + c * plane + p] + 1f) / 2f;
                if (!(v >= 0f)) v = 0f; // also NaN → 0 (clamp propagates NaN in torch; byte(NaN) is 0 on x86)
                if (v > 1f) v = 1f;
                out[p * 3 + c] = (byte) (int) (v * 255f);
            }
        }
        return new RgbImage(width, height, out);
    }

    /**
     * To model space as DD does for an init image: {@code TF.to_tensor(img).mul(2).sub(1)}, float32 CHW.
     */
    public float[] toModelSpace() {
        int plane = width * height;
        float[] out = new float[plane * 3];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                float v = (rgb[p * 3 + c] & 0xff) / 255f;
                out[c * plane + p] = v * 2f - 1f;
            }
        }
        return out;
    }

    public BufferedImage toBufferedImage() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        // data elements of a pixel-interleaved raster are given in band order (R, G, B) whatever the storage order
        img.getRaster().setDataElements(0, 0, width, height, rgb);
        return img;
    }

    /** Tiles images left to right, top to bottom into a grid with {@code cols} columns (black where empty). */
    public static RgbImage grid(java.util.List<RgbImage> images, int cols) {
        if (images.isEmpty()) throw new IllegalArgumentException("no images");
        int w = images.get(0).width(), h = images.get(0).height();
        cols = Math.max(1, Math.min(cols, images.size()));
        int rows = (images.size() + cols - 1) / cols;
        byte[] out = new byte[w * cols * h * rows * 3];
        int stride = w * cols * 3;
        for (int i = 0; i < images.size(); i++) {
            RgbImage im = images.get(i);
            if (im.width() != w || im.height() != h) throw new IllegalArgumentException("grid images differ in size");
            int ox = (i % cols) * w, oy = (i / cols) * h;
            for (int y = 0; y < h; y++) {
                System.arraycopy(im.rgb(), y * w * 3, out, (oy + y) * stride + ox * 3, w * 3);
            }
        }
        return new RgbImage(w * cols, h * rows, out);
    }
}
