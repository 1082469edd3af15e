package disco.models.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Test helper: writes pickles and zip checkpoints opcode by opcode, the way torch.save lays them out. */
final class TorchZipWriter {
    final ByteArrayOutputStream pkl = new ByteArrayOutputStream();
    final Map<String, byte[]> storages = new LinkedHashMap<>();
    final Map<String, Long> numels = new LinkedHashMap<>();
    /** Legacy (pre-1.6) persistent ids carry a sixth element, view_metadata (None). */
    boolean legacy;
    /** The tensor global: {@code _rebuild_tensor_v2}, or the v1 {@code _rebuild_tensor} of PyTorch < 0.4. */
    boolean v1;

    TorchZipWriter op(int b) {
        pkl.write(b);
        return this;
    }

    TorchZipWriter global(String module, String name) {
        op('c');
        byte[] s = (module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8);
        pkl.write(s, 0, s.length);
        return this;
    }

    TorchZipWriter str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op('X');
        int n = b.length;
        op(n & 0xff).op((n >> 8) & 0xff).op((n >> 16) & 0xff).op((n >>> 24) & 0xff);
        pkl.write(b, 0, b.length);
        return this;
    }

    TorchZipWriter integer(long v) {
        if (v != (int) v) {
            op(0x8a).op(8); // LONG1: 8 little-endian bytes
            for (int i = 0; i < 8; i++) op((int) ((v >> (8 * i)) & 0xff));
            return this;
        }
        op('J');
        op((int) (v & 0xff)).op((int) ((v >> 8) & 0xff)).op((int) ((v >> 16) & 0xff)).op((int) ((v >> 24) & 0xff));
        return this;
    }

    TorchZipWriter tupleOf(long... values) {
        op('(');
        for (long v : values) integer(v);
        return op('t');
    }

    TorchZipWriter beginStateDict() {
        op(0x80).op(2);
        global("collections", "OrderedDict").op(')').op('R');
        return op('(');
    }

    /** {@code key: _rebuild_tensor_v2(storage(type, key, numel), offset, size, stride, False, OrderedDict())}. */
    TorchZipWriter tensor(String key, String storageType, String storageKey, long numel, long offset, long[] size,
            long[] stride) {
        str(key);
        numels.put(storageKey, numel);
        global("torch._utils", v1 ? "_rebuild_tensor" : "_rebuild_tensor_v2");
        op('(');
        op('(').str("storage").global("torch", storageType).str(storageKey).str("cpu").integer(numel);
        if (legacy) op('N');
        op('t').op('Q');
        integer(offset).tupleOf(size).tupleOf(stride);
        if (!v1) {
            op(0x89);
            global("collections", "OrderedDict").op(')').op('R');
        }
        op('t').op('R');
        return this;
    }

    TorchZipWriter endStateDict() {
        op('u');
        return op('.');
    }

    TorchZipWriter storage(String key, byte[] data) {
        storages.put(key, data);
        return this;
    }

    byte[] zipBytes(String archive) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            put(z, archive + "/data.pkl", pkl.toByteArray());
            for (Map.Entry<String, byte[]> e : storages.entrySet()) put(z, archive + "/data/" + e.getKey(), e.getValue());
            put(z, archive + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        return out.toByteArray();
    }

    /**
     * The legacy format: the magic number, protocol version and sys-info pickles, the state_dict pickle, the storage
     * keys, then each storage as int64 element count + raw bytes (in key order).
     */
    byte[] legacyBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] magic = {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20,
                0x6a, (byte) 0xa8, 0x50, 0x19, 0x2e};
        out.writeBytes(magic);
        out.writeBytes(new byte[] {(byte) 0x80, 2, 'M', (byte) 0xe9, 0x03, '.'});
        TorchZipWriter sys = new TorchZipWriter();
        sys.op(0x80).op(2).op('}').op('(').str("protocol_version").op('M').op(0xe9).op(0x03).str("little_endian")
                .op(0x88).op('u').op('.');
        out.writeBytes(sys.pkl.toByteArray());
        out.writeBytes(pkl.toByteArray());
        TorchZipWriter keys = new TorchZipWriter();
        keys.op(0x80).op(2).op(']').op('(');
        for (String k : storages.keySet()) keys.str(k);
        keys.op('e').op('.');
        out.writeBytes(keys.pkl.toByteArray());
        for (Map.Entry<String, byte[]> e : storages.entrySet()) {
            out.writeBytes(longs(numels.get(e.getKey())));
            out.writeBytes(e.getValue());
        }
        return out.toByteArray();
    }

    Path write(Path file, String archive) throws IOException {
        Files.write(file, zipBytes(archive));
        return file;
    }

    private static void put(ZipOutputStream z, String name, byte[] data) throws IOException {
        z.putNextEntry(new ZipEntry(name));
        z.write(data);
        z.closeEntry();
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    static byte[] shorts(int... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int s : v) b.putShort((short) s);
        return b.array();
    }

    static byte[] longs(long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long s : v) b.putLong(s);
        return b.array();
    }
}
