package disco.models.checkpoint;

import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.PickleException;
import net.razorvine.pickle.Unpickler;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An unpickler for PyTorch checkpoints that resolves only an allowlist of globals and builds nothing but inert
 * descriptions ({@link TensorRef}, {@link StorageRef}, {@link ModuleObj}): no tensor exists until the whole pickle
 * has been read, so a refused global stops the load before anything is built. Dictionaries keep file order.
 */
final class SafeUnpickler extends Unpickler {
    /** Thrown for a global outside the allowlist (or an opcode that imports one). */
    static final class RefusedGlobal extends PickleException {
        RefusedGlobal(String message) {
            super(message);
        }
    }

    /** A storage type global such as {@code torch.HalfStorage}. */
    record StorageType(String name, Dtype dtype) {}

    /** One storage of the archive: {@code data/<key>}, {@code numel} elements of {@code type}. */
    record StorageRef(StorageType type, String key, long numel) {}

    /** {@code _rebuild_tensor_v2(storage, offset, size, stride, ...)}: a view of a storage. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /** {@code collections.OrderedDict}: entries in file order; BUILD state (e.g. {@code _metadata}) kept apart. */
    static final class OrderedDictObj extends LinkedHashMap<Object, Object> {
        Object state;
    }

    /** An instance of a TorchScript module class ({@code __torch__.*}): its attributes in file order. */
    static final class ModuleObj {
        final String className;
        final LinkedHashMap<String, Object> attributes = new LinkedHashMap<>();

        ModuleObj(String className) {
            this.className = className;
        }
    }

    /** The element types of {@code torch.<Name>Storage}. */
    enum Dtype {
        FLOAT32(4), FLOAT16(2), BFLOAT16(2), FLOAT64(8), INT64(8), INT32(4), UINT8(1), BOOL(1);
        final int bytes;

        Dtype(int bytes) {
            this.bytes = bytes;
        }
    }

    private static final Map<String, Dtype> STORAGES = Map.of(
            "FloatStorage", Dtype.FLOAT32,
            "HalfStorage", Dtype.FLOAT16,
            "BFloat16Storage", Dtype.BFLOAT16,
            "DoubleStorage", Dtype.FLOAT64,
            "LongStorage", Dtype.INT64,
            "IntStorage", Dtype.INT32,
            "ByteStorage", Dtype.UINT8,
            "BoolStorage", Dtype.BOOL);

    private final Map<String, StorageRef> storages = new LinkedHashMap<>();
    private final boolean allowModules;

    /** @param allowModules accept {@code __torch__.*} classes (TorchScript archives) as attribute containers */
    SafeUnpickler(boolean allowModules) {
        this.allowModules = allowModules;
    }

    Map<String, StorageRef> storages() {
        return storages;
    }

    @Override
    protected Object dispatch(short key) throws PickleException, IOException {
        switch (key) {
            case 'c' -> { // GLOBAL
                String module = readline();
                String name = readline();
                stack.add(resolve(module, name));
                return NO_RETURN_VALUE;
            }
            case 0x93 -> { // STACK_GLOBAL
                Object name = stack.pop();
                Object module = stack.pop();
                if (!(name instanceof String n) || !(module instanceof String m)) {
                    throw new RefusedGlobal("STACK_GLOBAL with non-string operands");
                }
                stack.add(resolve(m, n));
                return NO_RETURN_VALUE;
            }
            case 'i', 'o', 0x82, 0x83, 0x84 -> // INST, OBJ, EXT1/2/4: import by other means
                    throw new RefusedGlobal("pickle opcode 0x" + Integer.toHexString(key) + " (object import) is not allowed");
            case '}' -> { // EMPTY_DICT, in file order
                stack.add(new LinkedHashMap<Object, Object>());
                return NO_RETURN_VALUE;
            }
            case 'd' -> { // DICT
                List<Object> items = stack.pop_all_since_marker();
                Map<Object, Object> map = new LinkedHashMap<>();
                for (int i = 0; i + 1 < items.size(); i += 2) map.put(items.get(i), items.get(i + 1));
                stack.add(map);
                return NO_RETURN_VALUE;
            }
            case 's' -> { // SETITEM
                Object value = stack.pop();
                Object k = stack.pop();
                asMap(stack.peek()).put(k, value);
                return NO_RETURN_VALUE;
            }
            case 'u' -> { // SETITEMS, in file order
                List<Object> items = stack.pop_all_since_marker();
                Map<Object, Object> map = asMap(stack.peek());
                for (int i = 0; i + 1 < items.size(); i += 2) map.put(items.get(i), items.get(i + 1));
                return NO_RETURN_VALUE;
            }
            case 'b' -> { // BUILD
                Object state = stack.pop();
                Object obj = stack.peek();
                build(obj, state);
                return NO_RETURN_VALUE;
            }
            default -> {
                return super.dispatch(key);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> asMap(Object o) {
        if (o instanceof Map<?, ?> m) return (Map<Object, Object>) m;
        throw new PickleException("SETITEM(S) on a " + (o == null ? "None" : o.getClass().getSimpleName()));
    }

    private static void build(Object obj, Object state) {
        if (obj instanceof OrderedDictObj od) {
            od.state = state;
        } else if (obj instanceof ModuleObj m) {
            if (!(state instanceof Map<?, ?> attrs)) {
                throw new PickleException("BUILD of " + m.className + " with a " + typeName(state) + " state");
            }
            for (Map.Entry<?, ?> e : attrs.entrySet()) m.attributes.put(String.valueOf(e.getKey()), e.getValue());
        } else {
            throw new PickleException("BUILD on a " + typeName(obj) + " is not supported");
        }
    }

    private static String typeName(Object o) {
        return o == null ? "None" : o.getClass().getSimpleName();
    }

    private String readline() throws IOException {
        InputStream in = input;
        StringBuilder sb = new StringBuilder();
        byte[] buf = new byte[256];
        int n = 0;
        while (true) {
            int b = in.read();
            if (b < 0) throw new IOException("premature end of pickle in GLOBAL");
            if (b == '\n') break;
            if (n == buf.length) buf = Arrays.copyOf(buf, n * 2);
            buf[n++] = (byte) b;
        }
        sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        return sb.toString();
    }

    /** The allowlist: everything else is refused here, before any object is made. */
    private Object resolve(String module, String name) {
        String full = module + "." + name;
        switch (full) {
            case "collections.OrderedDict":
                return (IObjectConstructor) args -> {
                    OrderedDictObj od = new OrderedDictObj();
                    if (args.length > 0 && args[0] instanceof List<?> items) { // OrderedDict([(k, v), ...])
                        for (Object item : items) {
                            if (item instanceof Object[] kv && kv.length == 2) od.put(kv[0], kv[1]);
                            else throw new PickleException("OrderedDict item is not a pair");
                        }
                    }
                    return od;
                };
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor": // v1: PyTorch < 0.4 files
                return (IObjectConstructor) SafeUnpickler::rebuildTensor;
            case "torch._utils._rebuild_parameter":
                return (IObjectConstructor) args -> {
                    if (args.length < 1 || !(args[0] instanceof TensorRef t)) {
                        throw new PickleException("_rebuild_parameter without a tensor");
                    }
                    return t;
                };
            case "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist",
                    "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensorlist",
                    "torch.jit._pickle.build_genericlist":
                return (IObjectConstructor) args -> args.length == 1 ? args[0] : Arrays.asList(args);
            default:
                break;
        }
        if (module.equals("torch") && STORAGES.containsKey(name)) return new StorageType(name, STORAGES.get(name));
        if (allowModules && module.startsWith("__torch__.") || allowModules && module.equals("__torch__")) {
            String className = full;
            return (IObjectConstructor) args -> new ModuleObj(className);
        }
        throw new RefusedGlobal("refused pickle global " + full + " (not in the allowlist of tensor-only globals)");
    }

    private static TensorRef rebuildTensor(Object[] args) {
        if (args.length < 4 || !(args[0] instanceof StorageRef s)) {
            throw new PickleException("_rebuild_tensor_v2 with unexpected arguments");
        }
        if (!(args[1] instanceof Number offset)) throw new PickleException("tensor offset is not an int");
        return new TensorRef(s, exactLong(offset), longs(args[2]), longs(args[3]));
    }

    private static long[] longs(Object o) {
        Object[] items;
        if (o instanceof Object[] a) items = a;
        else if (o instanceof List<?> l) items = l.toArray();
        else throw new PickleException("expected a tuple of ints, got " + typeName(o));
        long[] r = new long[items.length];
        for (int i = 0; i < items.length; i++) {
            if (!(items[i] instanceof Number n)) throw new PickleException("expected an int, got " + typeName(items[i]));
            r[i] = exactLong(n);
        }
        return r;
    }

    /** An int of the pickle as a long; one beyond 64 bits (pickle ints are unbounded) is refused, not wrapped. */
    private static long exactLong(Number n) {
        if (n instanceof java.math.BigInteger bi && bi.bitLength() > 63) {
            throw new PickleException("integer " + bi + " is out of range");
        }
        if (!(n instanceof Long || n instanceof Integer || n instanceof Short || n instanceof Byte
                || n instanceof java.math.BigInteger)) {
            throw new PickleException("expected an int, got " + n.getClass().getSimpleName());
        }
        return n.longValue();
    }

    @Override
    protected Object persistentLoad(Object pid) {
        if (!(pid instanceof Object[] t) || t.length < 5 || !"storage".equals(t[0])) {
            throw new PickleException("unsupported persistent id " + (pid instanceof Object[] a ? Arrays.toString(a) : pid));
        }
        if (!(t[1] instanceof StorageType type)) throw new PickleException("persistent id without a storage type");
        if (t.length > 5 && t[5] != null) { // legacy files: a storage that is a view of another one
            throw new PickleException("storage " + t[2] + " is a view of another storage (view_metadata), which is not read");
        }
        String key = String.valueOf(t[2]);
        if (!(t[4] instanceof Number size)) throw new PickleException("storage " + key + ": size is not an int");
        long numel = exactLong(size);
        if (numel < 0) throw new PickleException("storage " + key + ": negative size " + numel);
        StorageRef prev = storages.get(key);
        if (prev != null) {
            if (prev.type() != type && !prev.type().equals(type)) {
                throw new PickleException("storage " + key + " used with two types");
            }
            return prev;
        }
        StorageRef ref = new StorageRef(type, key, numel);
        storages.put(key, ref);
        return ref;
    }
}
