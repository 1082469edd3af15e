package disco.util;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads and writes NumPy {@code .npy} files (version 1/2/3, C order, little-endian f4/f8/i4/i8/b1). */
public final class Npy {
    private Npy() {}

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** An n-d array: dtype descriptor ("<f4", "<f8", "<i8", "<i4", "|b1"), shape, raw little-endian data. */
    public record Array(String dtype, long[] shape, ByteBuffer data) {
        public long size() {
            long n = 1;
            for (long s : shape) n *= s;
            return n;
        }

        public int[] intShape() {
            return Arrays.stream(shape).mapToInt(Math::toIntExact).toArray();
        }

        public float[] floats() {
            int n = Math.toIntExact(size());
            float[] out = new float[n];
            ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            switch (dtype) {
                case "<f4" -> b.asFloatBuffer().get(out);
                case "<f8" -> { for (int i = 0; i < n; i++) out[i] = (float) b.getDouble(i * 8); }
                case "<i8" -> { for (int i = 0; i < n; i++) out[i] = b.getLong(i * 8); }
                case "<i4" -> { for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4); }
                default -> throw new IllegalStateException("cannot read dtype " + dtype + " as float");
            }
            return out;
        }

        public double[] doubles() {
            int n = Math.toIntExact(size());
            double[] out = new double[n];
            ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            switch (dtype) {
                case "<f8" -> b.asDoubleBuffer().get(out);
                case "<f4" -> { for (int i = 0; i < n; i++) out[i] = b.getFloat(i * 4); }
                case "<i8" -> { for (int i = 0; i < n; i++) out[i] = b.getLong(i * 8); }
                case "<i4" -> { for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4); }
                default -> throw new IllegalStateException("cannot read dtype " + dtype + " as double");
            }
            return out;
        }

        public long[] longs() {
            int n = Math.toIntExact(size());
            long[] out = new long[n];
            ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            switch (dtype) {
                case "<i8" -> b.asLongBuffer().get(out);
                case "<i4" -> { for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4); }
                default -> throw new IllegalStateException("cannot read dtype " + dtype + " as long");
            }
            return out;
        }
    }

    public static Array read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        return parse(bytes, file.toString());
    }

    /**
     * Parses {@code .npy} bytes; {@code name} names the file in errors. Every field is checked (magic, version,
     * header length, dtype, shape, data size) so that a damaged or hand-made file is one line of bad input, never
     * an exception from deep inside.
     */
    public static Array parse(byte[] bytes, String name) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < MAGIC.length; i++) {
            if (bytes.length < 10 || bytes[i] != MAGIC[i]) throw DiscoException.badInput(name + ": not a .npy file");
        }
        int major = bytes[6];
        int headerLen;
        int offset;
        if (major == 1) {
            headerLen = Short.toUnsignedInt(b.getShort(8));
            offset = 10;
        } else if (major == 2 || major == 3) {
            if (bytes.length < 12) throw DiscoException.badInput(name + ": truncated .npy header");
            headerLen = b.getInt(8);
            offset = 12;
        } else {
            throw DiscoException.badInput(name + ": unsupported .npy version " + major + " (expected 1, 2 or 3)");
        }
        if (headerLen < 0 || headerLen > bytes.length - offset) {
            throw DiscoException.badInput(name + ": truncated .npy header: " + headerLen + " header bytes declared, "
                    + (bytes.length - offset) + " present");
        }
        String header = new String(bytes, offset, headerLen, StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher f = FORTRAN.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !s.find()) {
            throw DiscoException.badInput(name + ": malformed .npy header: " + abbreviate(header.trim()));
        }
        if (f.group(1).equals("True")) throw DiscoException.badInput(name + ": fortran_order arrays are not supported");
        String dtype = d.group(1);
        if (dtype.equals("<b1")) dtype = "|b1";
        String[] dims = s.group(1).split(",");
        long[] shape;
        try {
            shape = Arrays.stream(dims).map(String::trim).filter(x -> !x.isEmpty()).mapToLong(Long::parseLong).toArray();
        } catch (NumberFormatException e) {
            throw DiscoException.badInput(name + ": malformed .npy shape: (" + abbreviate(s.group(1)) + ")");
        }
        int itemSize = switch (dtype) {
            case "<f4", "<i4" -> 4;
            case "<f8", "<i8" -> 8;
            case "|b1", "|u1" -> 1;
            default -> throw DiscoException.badInput(name + ": unsupported dtype " + abbreviate(dtype)
                    + " (expected <f4, <f8, <i4, <i8, |b1)");
        };
        long n = 1;
        try {
            for (long x : shape) {
                if (x < 0) throw DiscoException.badInput(name + ": negative dimension in .npy shape " + Arrays.toString(shape));
                n = Math.multiplyExact(n, x);
            }
            n = Math.multiplyExact(n, itemSize);
        } catch (ArithmeticException e) {
            n = Long.MAX_VALUE;
        }
        int start = offset + headerLen;
        if (bytes.length - start < n) {
            throw DiscoException.badInput(name + ": truncated: shape " + Arrays.toString(shape) + " needs "
                    + (n == Long.MAX_VALUE ? "more than 2^63" : Long.toString(n)) + " data bytes, found " + (bytes.length - start));
        }
        ByteBuffer data = ByteBuffer.wrap(bytes, start, (int) n).slice().order(ByteOrder.LITTLE_ENDIAN);
        return new Array(dtype, shape, data);
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 79) + "\u2026";
    }

    /** Writes float32 data as {@code <f4}. */
    public static byte[] encodeFloats(float[] data, long... shape) {
        ByteBuffer buf = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(data);
        return encode("<f4", shape, buf.array());
    }

    /** Writes float64 data as {@code <f8}. */
    public static byte[] encodeDoubles(double[] data, long... shape) {
        ByteBuffer buf = ByteBuffer.allocate(data.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        buf.asDoubleBuffer().put(data);
        return encode("<f8", shape, buf.array());
    }

    private static byte[] encode(String dtype, long[] shape, byte[] payload) {
        StringBuilder sh = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sh.append(shape[i]);
            if (shape.length == 1 || i < shape.length - 1) sh.append(shape.length == 1 ? "," : ", ");
        }
        sh.append(")");
        String header = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': " + sh + ", }";
        int total = 10 + header.length() + 1;
        int pad = (64 - total % 64) % 64;
        header = header + " ".repeat(pad) + "\n";
        ByteBuffer out = ByteBuffer.allocate(10 + header.length() + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
        out.put(header.getBytes(StandardCharsets.ISO_8859_1)).put(payload);
        return out.array();
    }
}
