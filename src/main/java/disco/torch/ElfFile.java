package disco.torch;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * What the dynamic loader and the CUDA driver will want from a 64-bit little-endian ELF shared library, read from
 * the file without loading it: its {@code DT_NEEDED} sonames and {@code DT_RUNPATH}/{@code DT_RPATH}, and the GPU
 * architectures of the code in its {@code .nv_fatbin} section (CUDA's fat binaries: a header per fat binary, then
 * one entry per architecture, kind 1 PTX, kind 2 SASS).
 */
public final class ElfFile {
    private static final int PT_LOAD = 1, PT_DYNAMIC = 2;
    private static final int DT_NEEDED = 1, DT_STRTAB = 5, DT_RPATH = 15, DT_RUNPATH = 29;
    private static final int FATBIN_MAGIC = 0xBA55ED50;

    /** The dynamic section's dependencies: sonames in order, and the search path ({@code $ORIGIN} unexpanded). */
    public record Dynamic(List<String> needed, List<String> runpath) {}

    /** The GPU code of a library: entries per SASS architecture ({@code 80} = sm_80) and per PTX architecture. */
    public record GpuArchs(TreeMap<Integer, Integer> sass, TreeMap<Integer, Integer> ptx) {
        public boolean isEmpty() {
            return sass.isEmpty() && ptx.isEmpty();
        }

        /**
         * Whether a device of compute capability {@code sm} (e.g. 86) can run this code: SASS of the same major
         * version and a minor at most the device's, or PTX of an architecture at most the device's (JIT-compiled).
         */
        public boolean runsOn(int sm) {
            for (int a : sass.keySet()) if (a / 10 == sm / 10 && a % 10 <= sm % 10) return true;
            for (int a : ptx.keySet()) if (a <= sm) return true;
            return false;
        }

        @Override
        public String toString() {
            if (isEmpty()) return "none";
            StringBuilder b = new StringBuilder();
            for (int a : sass.keySet()) b.append(b.length() == 0 ? "" : " ").append("sm_").append(a);
            for (int a : ptx.keySet()) b.append(b.length() == 0 ? "" : " ").append("compute_").append(a).append(" (PTX)");
            return b.toString();
        }
    }

    private ElfFile() {}

    /** The dynamic dependencies of {@code file}; an empty list for a file that is not a 64-bit ELF object. */
    public static Dynamic dynamic(Path file) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            ByteBuffer h = read(f, 0, 64);
            if (h == null || h.getInt(0) != 0x464c457f || h.get(4) != 2 || h.get(5) != 1) {
                return new Dynamic(List.of(), List.of());
            }
            long phoff = h.getLong(0x20);
            int phentsize = Short.toUnsignedInt(h.getShort(0x36)), phnum = Short.toUnsignedInt(h.getShort(0x38));
            ByteBuffer ph = read(f, phoff, phentsize * phnum);
            if (ph == null) throw new IOException(file + ": truncated ELF program headers");
            List<long[]> loads = new ArrayList<>();  // {vaddr, offset, filesz}
            long dynOff = -1, dynSize = 0;
            for (int i = 0; i < phnum; i++) {
                int b = i * phentsize;
                int type = ph.getInt(b);
                if (type == PT_LOAD) loads.add(new long[]{ph.getLong(b + 0x10), ph.getLong(b + 0x08), ph.getLong(b + 0x20)});
                if (type == PT_DYNAMIC) {
                    dynOff = ph.getLong(b + 0x08);
                    dynSize = ph.getLong(b + 0x20);
                }
            }
            if (dynOff < 0) return new Dynamic(List.of(), List.of());
            ByteBuffer dyn = read(f, dynOff, (int) dynSize);
            if (dyn == null) throw new IOException(file + ": truncated ELF dynamic section");
            long strtab = -1;
            List<Long> needed = new ArrayList<>(), paths = new ArrayList<>();
            for (int p = 0; p + 16 <= dynSize; p += 16) {
                long tag = dyn.getLong(p), val = dyn.getLong(p + 8);
                if (tag == 0) break;
                if (tag == DT_NEEDED) needed.add(val);
                else if (tag == DT_STRTAB) strtab = val;
                else if (tag == DT_RUNPATH || tag == DT_RPATH) paths.add(val);
            }
            long strOff = -1;
            for (long[] l : loads) if (strtab >= l[0] && strtab < l[0] + l[2]) strOff = strtab - l[0] + l[1];
            if (strOff < 0) throw new IOException(file + ": ELF string table outside the file's segments");
            List<String> n = new ArrayList<>(), r = new ArrayList<>();
            for (long v : needed) n.add(string(f, strOff + v));
            for (long v : paths) for (String d : string(f, strOff + v).split(":")) if (!d.isEmpty()) r.add(d);
            return new Dynamic(n, r);
        }
    }

    /** The GPU architectures in {@code file}'s {@code .nv_fatbin} section (empty when it has none). */
    public static GpuArchs gpuArchs(Path file) throws IOException {
        TreeMap<Integer, Integer> sass = new TreeMap<>(), ptx = new TreeMap<>();
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long[] sec = section(f, ".nv_fatbin");
            if (sec == null) return new GpuArchs(sass, ptx);
            long p = sec[0], end = sec[0] + sec[1];
            while (p + 16 <= end) {
                ByteBuffer h = read(f, p, 16);
                if (h == null) break;
                if (h.getInt(0) != FATBIN_MAGIC) {  // fat binaries are 8-byte aligned in the section
                    p += 8;
                    continue;
                }
                long q = p + Short.toUnsignedInt(h.getShort(6)), qe = q + h.getLong(8);
                while (q + 32 <= qe) {
                    ByteBuffer e = read(f, q, 32);
                    if (e == null) break;
                    int kind = Short.toUnsignedInt(e.getShort(0));
                    long headerSize = Integer.toUnsignedLong(e.getInt(4)), size = e.getLong(8);
                    int arch = e.getInt(28);
                    if (kind == 1) ptx.merge(arch, 1, Integer::sum);
                    else if (kind == 2) sass.merge(arch, 1, Integer::sum);
                    if (headerSize <= 0) break;
                    q += headerSize + size;
                }
                p = Math.max(qe, p + 16);
            }
        }
        return new GpuArchs(sass, ptx);
    }

    /** {offset, size} of the section named {@code name}, or null. */
    private static long[] section(RandomAccessFile f, String name) throws IOException {
        ByteBuffer h = read(f, 0, 64);
        if (h == null || h.getInt(0) != 0x464c457f || h.get(4) != 2) return null;
        long shoff = h.getLong(0x28);
        int shentsize = Short.toUnsignedInt(h.getShort(0x3a)), shnum = Short.toUnsignedInt(h.getShort(0x3c));
        int shstrndx = Short.toUnsignedInt(h.getShort(0x3e));
        if (shoff == 0 || shnum == 0 || shstrndx >= shnum) return null;
        ByteBuffer sh = read(f, shoff, shentsize * shnum);
        if (sh == null) return null;
        long strOff = sh.getLong(shstrndx * shentsize + 0x18);
        for (int i = 0; i < shnum; i++) {
            int b = i * shentsize;
            if (string(f, strOff + Integer.toUnsignedLong(sh.getInt(b))).equals(name)) {
                return new long[]{sh.getLong(b + 0x18), sh.getLong(b + 0x20)};
            }
        }
        return null;
    }

    private static ByteBuffer read(RandomAccessFile f, long off, int n) throws IOException {
        if (off < 0 || n < 0 || off + n > f.length()) return null;
        byte[] b = new byte[n];
        f.seek(off);
        f.readFully(b);
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static String string(RandomAccessFile f, long off) throws IOException {
        f.seek(off);
        StringBuilder s = new StringBuilder();
        byte[] buf = new byte[256];
        while (true) {
            int n = f.read(buf);
            if (n <= 0) break;
            for (int i = 0; i < n; i++) {
                if (buf[i] == 0) return new String(s.toString().getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
                s.append((char) (buf[i] & 0xff));
            }
            if (s.length() > 4096) break;
        }
        return s.toString();
    }
}
