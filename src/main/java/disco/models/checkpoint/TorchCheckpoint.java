package disco.models.checkpoint;

import disco.torch.Tensors;
import disco.models.checkpoint.SafeUnpickler.Dtype;
import disco.models.checkpoint.SafeUnpickler.ModuleObj;
import disco.models.checkpoint.SafeUnpickler.StorageRef;
import disco.models.checkpoint.SafeUnpickler.TensorRef;
import disco.torch.Torch;
import disco.util.DiscoException;
import net.razorvine.pickle.PickleException;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.StringTensorDictItem;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * PyTorch checkpoints without Python: the zip format of {@code torch.save(state_dict)} ({@code <archive>/data.pkl} +
 * {@code <archive>/data/N}, any archive prefix), the legacy (pre-1.6) format of the same ({@link LegacyCheckpoint};
 * torchvision's and LPIPS's weight files) and the weights inside a TorchScript archive (OpenAI's CLIP files),
 * whose code is never executed. The pickle is read with an allowlist of globals; tensors are built only after the
 * whole pickle has been accepted.
 */
public final class TorchCheckpoint {
    private TorchCheckpoint() {}

    /**
     * Reads every tensor of a checkpoint, keyed by its state_dict name, in file order. Views of one storage share
     * it (as_strided). Bad or unsupported files throw {@link DiscoException#badInput} naming the file.
     */
    public static Map<String, Tensor> read(Path file) {
        if (isLegacy(file)) return LegacyCheckpoint.read(file);
        try (ZipFile zip = open(file)) {
            Parsed p = parse(zip, file, false);
            return build(zip, p.prefix(), p.refs(), file);
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Loads a checkpoint straight into {@code module} (strict, as {@link #loadInto(Module, Map, Path, Set)}), one
     * storage at a time: every key, shape and dtype is checked before any tensor data is read, and peak memory is
     * the module plus the largest storage rather than the module plus the whole file.
     */
    public static void load(Module module, Path file, Set<String> ignored) {
        load(module, file, ignored, false);
    }

    /** How an open_clip checkpoint held its state dict (what {@link #loadOpenClip} found). */
    public record OpenClipForm(boolean wrapped, boolean modulePrefix) {
        /** {@code plain} (the pickle is the state dict) or {@code wrapped} (a training checkpoint's {@code state_dict}). */
        public String word() {
            return wrapped ? "wrapped" : "plain";
        }
    }

    /**
     * Loads an open_clip checkpoint into {@code module} as open_clip's {@code load_state_dict} reads it: the pickle's
     * {@code ['state_dict']} when it is a dict holding one (a training checkpoint {@code {'epoch', 'name',
     * 'state_dict', 'optimizer'}}; the other entries are never built), else the pickle itself; then, when the first
     * key starts with {@code module} (DDP), 7 characters dropped from every key. Strict as {@link #load}.
     */
    public static OpenClipForm loadOpenClip(Module module, Path file) {
        return load(module, file, Set.of(), true);
    }

    private static OpenClipForm load(Module module, Path file, Set<String> ignored, boolean openClip) {
        Torch.init();
        if (isLegacy(file)) {
            LegacyCheckpoint.load(module, file, ignored);
            return new OpenClipForm(false, false);
        }
        try (ZipFile zip = open(file)) {
            Parsed p = parse(zip, file, openClip);
            Map<String, Spec> specs = new LinkedHashMap<>();
            p.refs().forEach((k, t) -> specs.put(k, new Spec(t.size(), scalarType(t.storage().type().dtype()))));
            Map<String, Tensor> target = stateDict(module);
            checkCompatible(target, specs, file, ignored);
            Map<StorageRef, List<String>> byStorage = new LinkedHashMap<>();
            for (Map.Entry<String, TensorRef> e : p.refs().entrySet()) {
                if (!target.containsKey(e.getKey())) continue; // an ignored key
                byStorage.computeIfAbsent(e.getValue().storage(), k -> new ArrayList<>()).add(e.getKey());
            }
            try (NoGradGuard guard = new NoGradGuard()) {
                for (Map.Entry<StorageRef, List<String>> e : byStorage.entrySet()) {
                    Tensor storage = readStorage(zip, p.prefix(), e.getKey(), file, e.getValue().get(0));
                    for (String key : e.getValue()) {
                        TensorRef t = p.refs().get(key);
                        Tensor view = storage.as_strided(t.size(), t.stride(),
                                new org.bytedeco.pytorch.LongOptional(t.offset()));
                        target.get(key).copy_(view);
                        view.close();
                    }
                    storage.close();
                }
            }
            return p.form();
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** Every tensor's shape, in file order, from the pickle alone (no tensor data is read). */
    public static Map<String, long[]> shapes(Path file) {
        if (isLegacy(file)) return LegacyCheckpoint.shapes(file);
        try (ZipFile zip = open(file)) {
            Map<String, long[]> out = new LinkedHashMap<>();
            parse(zip, file, false).refs().forEach((k, t) -> out.put(k, t.size().clone()));
            return out;
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    private record Parsed(String prefix, LinkedHashMap<String, TensorRef> refs, OpenClipForm form) {}

    /** What a checkpoint entry must match in the network: shape and dtype. */
    record Spec(long[] shape, ScalarType dtype) {}

    private static ZipFile open(Path file) {
        checkZipMagic(file);
        try {
            return new ZipFile(file.toFile());
        } catch (NoSuchFileException e) {
            throw DiscoException.badInput(file + ": no such file");
        } catch (ZipException e) {
            throw DiscoException.badInput(file + ": not a complete zip archive (truncated download?): " + e.getMessage(), e);
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** The unpickled state_dict as storage views, validated against their storages; no tensor data is read. */
    private static Parsed parse(ZipFile zip, Path file, boolean openClip) throws IOException {
        String prefix = archivePrefix(zip, file);
        checkByteOrder(zip, prefix, file);
        boolean torchScript = hasEntriesUnder(zip, prefix + "code/");
        SafeUnpickler up = new SafeUnpickler(torchScript);
        Object root;
        try (InputStream in = zip.getInputStream(zip.getEntry(prefix + "data.pkl"))) {
            root = up.load(in);
        } catch (SafeUnpickler.RefusedGlobal e) {
            throw DiscoException.badInput(file + ": data.pkl: " + e.getMessage(), e);
        } catch (PickleException | ClassCastException | IllegalArgumentException e) {
            throw DiscoException.badInput(file + ": data.pkl: not a PyTorch state_dict pickle (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": data.pkl: cannot read (truncated archive?): " + e.getMessage(), e);
        }
        LinkedHashMap<String, TensorRef> refs = new LinkedHashMap<>();
        boolean wrapped = false;
        if (openClip && root instanceof Map<?, ?> top && top.containsKey("state_dict")) {
            root = top.get("state_dict");
            wrapped = true;
        }
        if (root instanceof ModuleObj m) {
            flattenModule(m, "", refs, new ClassDecls(zip, prefix), file);
        } else {
            refs = stateDictRefs(root, file, "data.pkl");
        }
        boolean prefixed = false;
        if (openClip && !refs.isEmpty() && refs.keySet().iterator().next().startsWith("module")) {
            // open_clip: {k[7:]: v} for every key once the first starts with 'module' (DDP's "module." prefix)
            LinkedHashMap<String, TensorRef> stripped = new LinkedHashMap<>();
            refs.forEach((k, t) -> stripped.put(k.length() > 7 ? k.substring(7) : "", t));
            refs = stripped;
            prefixed = true;
        }
        validateViews(refs, file);
        return new Parsed(prefix, refs, new OpenClipForm(wrapped, prefixed));
    }

    /** The tensors of an unpickled state_dict (a dict of tensors), in file order. */
    static LinkedHashMap<String, TensorRef> stateDictRefs(Object root, Path file, String where) {
        LinkedHashMap<String, TensorRef> refs = new LinkedHashMap<>();
        if (root instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String key = String.valueOf(e.getKey());
                if (!(e.getValue() instanceof TensorRef t)) {
                    throw DiscoException.badInput(file + ": " + key + ": expected a tensor (a state_dict), got "
                            + describe(e.getValue()));
                }
                refs.put(key, t);
            }
        } else {
            throw DiscoException.badInput(file + ": " + where + ": expected a state_dict (OrderedDict of tensors), got "
                    + describe(root));
        }
        return refs;
    }

    /**
     * Copies {@code weights} into {@code module}'s parameters and buffers (strict: every key of the module present,
     * no key left over, same shapes; floating dtypes converted to the module's, other dtypes must match). Runs under
     * {@link NoGradGuard}. Errors name {@code file} and the key.
     */
    public static void loadInto(Module module, Map<String, Tensor> weights, Path file) {
        loadInto(module, weights, file, Set.of());
    }

    /** As {@link #loadInto(Module, Map, Path)}, skipping the checkpoint keys in {@code ignored}. */
    public static void loadInto(Module module, Map<String, Tensor> weights, Path file, Set<String> ignored) {
        Map<String, Tensor> target = stateDict(module);
        Map<String, Spec> specs = new LinkedHashMap<>();
        weights.forEach((k, t) -> specs.put(k, new Spec(Tensors.shape(t), t.scalar_type().intern())));
        checkCompatible(target, specs, file, ignored);
        try (NoGradGuard guard = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : target.entrySet()) {
                e.getValue().copy_(weights.get(e.getKey()));
            }
        }
    }

    static void checkCompatible(Map<String, Tensor> target, Map<String, Spec> specs, Path file,
            Set<String> ignored) {
        for (String key : specs.keySet()) {
            if (!target.containsKey(key) && !ignored.contains(key)) {
                throw DiscoException.badInput(file + ": " + key + ": unexpected key (the network has no such parameter)");
            }
        }
        for (Map.Entry<String, Tensor> e : target.entrySet()) {
            String key = e.getKey();
            Tensor dst = e.getValue();
            Spec src = specs.get(key);
            if (src == null) throw DiscoException.badInput(file + ": " + key + ": missing key (the network expects "
                    + shapeString(dst) + ")");
            long[] ds = Tensors.shape(dst);
            if (!Arrays.equals(ds, src.shape())) {
                throw DiscoException.badInput(file + ": " + key + ": expected shape " + Arrays.toString(ds)
                        + ", got " + Arrays.toString(src.shape()));
            }
            ScalarType dt = dst.scalar_type().intern(), st = src.dtype().intern();
            if (dt != st && !(isFloating(dt) && isFloating(st))) {
                throw DiscoException.badInput(file + ": " + key + ": expected dtype " + dtypeName(dt) + ", got "
                        + dtypeName(st));
            }
        }
    }

    /**
     * Releases the tensors of a map returned by {@link #read} now (their memory is otherwise returned when the garbage
     * collector finds the handles). The tensors must not be used afterwards.
     */
    public static void close(Map<String, Tensor> weights) {
        for (Tensor t : weights.values()) t.close();
    }

    /** A module's parameters then buffers by their state_dict names (LibTorch order). */
    public static Map<String, Tensor> stateDict(Module module) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (StringTensorDict dict : new StringTensorDict[] {module.named_parameters(true), module.named_buffers(true)}) {
            for (long i = 0; i < dict.size(); i++) {
                StringTensorDictItem item = dict.get(i);
                out.put(item.key().getString(), new Tensor(item.value())); // an owned handle, not a reference into the dict
            }
        }
        return out;
    }

    /** {@code float32}, {@code float16}, ... as PyTorch prints them without the {@code torch.} prefix. */
    public static String dtypeName(ScalarType type) {
        ScalarType t = type.intern();
        return switch (t) {
            case Float -> "float32";
            case Half -> "float16";
            case BFloat16 -> "bfloat16";
            case Double -> "float64";
            case Long -> "int64";
            case Int -> "int32";
            case Byte -> "uint8";
            case Bool -> "bool";
            default -> t.name();
        };
    }

    private static boolean isFloating(ScalarType t) {
        return t == ScalarType.Float || t == ScalarType.Half || t == ScalarType.BFloat16 || t == ScalarType.Double;
    }

    private static String shapeString(Tensor t) {
        return "shape " + Arrays.toString(Tensors.shape(t)) + " " + dtypeName(t.scalar_type().intern());
    }

    // ---- archive layout -------------------------------------------------------------------------------------

    /** The file's first 4 bytes (fewer when it is shorter); a missing or unreadable file is bad input naming it. */
    private static byte[] firstBytes(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(4);
        } catch (NoSuchFileException e) {
            throw DiscoException.badInput(file + ": no such file");
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    private static void checkZipMagic(Path file) {
        byte[] head = firstBytes(file);
        int n = head.length;
        if (n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return;
        throw DiscoException.badInput(file + ": not a PyTorch zip checkpoint (expected a zip archive holding"
                + " <archive>/data.pkl)");
    }

    /**
     * Whether a file is in torch's legacy (pre-1.6, non-zip) format: a pickle (protocol 2 to 5) whose first value
     * is the LONG1 magic number {@code 0x1950a86a20f9469cfc6c}.
     */
    static boolean isLegacy(Path file) {
        byte[] head = firstBytes(file);
        int n = head.length;
        return n == 4 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5 && (head[2] & 0xff) == 0x8a
                && head[3] == 10;
    }

    private static String archivePrefix(ZipFile zip, Path file) {
        String prefix = null;
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            String name = en.nextElement().getName();
            if (name.endsWith("/data.pkl") && name.indexOf('/') == name.length() - "/data.pkl".length()) {
                if (prefix != null) throw DiscoException.badInput(file + ": more than one data.pkl in the archive");
                prefix = name.substring(0, name.length() - "data.pkl".length());
            } else if (name.equals("data.pkl")) {
                prefix = "";
            }
        }
        if (prefix == null) throw DiscoException.badInput(file + ": data.pkl: missing (not a PyTorch zip checkpoint)");
        return prefix;
    }

    private static boolean hasEntriesUnder(ZipFile zip, String dir) {
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            if (en.nextElement().getName().startsWith(dir)) return true;
        }
        return false;
    }

    private static void checkByteOrder(ZipFile zip, String prefix, Path file) throws IOException {
        ZipEntry e = zip.getEntry(prefix + "byteorder");
        if (e == null) return;
        try (InputStream in = zip.getInputStream(e)) {
            String order = new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim();
            if (!order.equals("little")) {
                throw DiscoException.badInput(file + ": byteorder: expected little, got " + order);
            }
        }
    }

    // ---- TorchScript module trees ---------------------------------------------------------------------------

    /** {@code __parameters__} / {@code __buffers__} of the archive's module classes, read from code/ as text. */
    private static final class ClassDecls {
        private static final Pattern CLASS = Pattern.compile("^class (\\w+)\\(");
        private static final Pattern LIST = Pattern.compile("^\\s+(__parameters__|__buffers__) = \\[(.*)\\]\\s*$");
        private static final Pattern NAME = Pattern.compile("\"([^\"]*)\"");
        private final ZipFile zip;
        private final String prefix;
        private final Map<String, Map<String, List<String>>> byFile = new HashMap<>();

        ClassDecls(ZipFile zip, String prefix) {
            this.zip = zip;
            this.prefix = prefix;
        }

        /** [parameters, buffers] of a class, or null when the archive does not declare it. */
        List<String>[] lookup(String qualified) throws IOException {
            int dot = qualified.lastIndexOf('.');
            String module = qualified.substring(0, dot), cls = qualified.substring(dot + 1);
            Map<String, List<String>> decls = byFile.get(module);
            if (decls == null) {
                decls = parse(module);
                byFile.put(module, decls);
            }
            List<String> p = decls.get(cls + ".__parameters__"), b = decls.get(cls + ".__buffers__");
            if (p == null && b == null) return null;
            @SuppressWarnings("unchecked")
            List<String>[] r = new List[] {p == null ? List.of() : p, b == null ? List.of() : b};
            return r;
        }

        private Map<String, List<String>> parse(String module) throws IOException {
            Map<String, List<String>> out = new HashMap<>();
            ZipEntry e = zip.getEntry(prefix + "code/" + module.replace('.', '/') + ".py");
            if (e == null) return out;
            String text;
            try (InputStream in = zip.getInputStream(e)) {
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            String cls = null;
            for (String line : text.split("\n")) {
                Matcher c = CLASS.matcher(line);
                if (c.find()) {
                    cls = c.group(1);
                    continue;
                }
                Matcher l = LIST.matcher(line);
                if (cls != null && l.find()) {
                    List<String> names = new ArrayList<>();
                    Matcher n = NAME.matcher(l.group(2));
                    while (n.find()) names.add(n.group(1));
                    out.put(cls + "." + l.group(1), names);
                }
            }
            return out;
        }
    }

    private static void flattenModule(ModuleObj m, String prefix, Map<String, TensorRef> out, ClassDecls decls,
            Path file) throws IOException {
        List<String>[] declared = decls.lookup(m.className);
        if (declared != null) {
            for (List<String> names : declared) {
                for (String name : names) {
                    Object v = m.attributes.get(name);
                    if (v == null) continue; // an optional parameter set to None (e.g. bias=False)
                    if (!(v instanceof TensorRef t)) {
                        throw DiscoException.badInput(file + ": " + prefix + name + ": expected a tensor, got " + describe(v));
                    }
                    out.put(prefix + name, t);
                }
            }
        } else {
            for (Map.Entry<String, Object> a : m.attributes.entrySet()) {
                if (a.getValue() instanceof TensorRef t) out.put(prefix + a.getKey(), t);
            }
        }
        for (Map.Entry<String, Object> a : m.attributes.entrySet()) {
            if (a.getValue() instanceof ModuleObj child) {
                flattenModule(child, prefix + a.getKey() + ".", out, decls, file);
            }
        }
    }

    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof ModuleObj m) return "module " + m.className;
        if (o instanceof Map<?, ?>) return "a dict";
        return o.getClass().getSimpleName();
    }

    // ---- tensors --------------------------------------------------------------------------------------------

    private static Map<String, Tensor> build(ZipFile zip, String prefix, LinkedHashMap<String, TensorRef> refs,
            Path file) throws IOException {
        Torch.init();
        Map<StorageRef, Tensor> storages = new HashMap<>();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, TensorRef> e : refs.entrySet()) {
            TensorRef t = e.getValue();
            Tensor storage = storages.get(t.storage());
            if (storage == null) {
                storage = readStorage(zip, prefix, t.storage(), file, e.getKey());
                storages.put(t.storage(), storage);
            }
            out.put(e.getKey(), storage.as_strided(t.size(), t.stride(), new org.bytedeco.pytorch.LongOptional(t.offset())));
        }
        for (Tensor storage : storages.values()) storage.close(); // the views hold the storages
        return Collections.unmodifiableMap(out);
    }

    /** Every view must lie inside its storage (checked before any data is read). */
    static void validateViews(Map<String, TensorRef> refs, Path file) {
        for (Map.Entry<String, TensorRef> e : refs.entrySet()) {
            TensorRef t = e.getValue();
            if (t.size().length != t.stride().length) {
                throw DiscoException.badInput(file + ": " + e.getKey() + ": size and stride differ in length");
            }
            long last = t.offset();
            boolean empty = false;
            boolean overflow = false;
            for (int i = 0; i < t.size().length; i++) {
                if (t.size()[i] < 0 || t.stride()[i] < 0) {
                    throw DiscoException.badInput(file + ": " + e.getKey() + ": negative size or stride");
                }
                if (t.size()[i] == 0) empty = true;
                try {
                    last = Math.addExact(last, Math.multiplyExact(Math.max(0, t.size()[i] - 1), t.stride()[i]));
                } catch (ArithmeticException ex) {
                    overflow = true;
                }
            }
            if (t.offset() < 0 || (!empty && (overflow || last >= t.storage().numel()))) {
                throw DiscoException.badInput(file + ": " + e.getKey() + ": view runs past its storage data/"
                        + t.storage().key() + " (" + t.storage().numel() + " elements)");
            }
        }
    }

    static ScalarType scalarType(Dtype d) {
        return switch (d) {
            case FLOAT32 -> ScalarType.Float;
            case FLOAT16 -> ScalarType.Half;
            case BFLOAT16 -> ScalarType.BFloat16;
            case FLOAT64 -> ScalarType.Double;
            case INT64 -> ScalarType.Long;
            case INT32 -> ScalarType.Int;
            case UINT8 -> ScalarType.Byte;
            case BOOL -> ScalarType.Bool;
        };
    }

    private static Tensor readStorage(ZipFile zip, String prefix, StorageRef s, Path file, String key)
            throws IOException {
        String name = prefix + "data/" + s.key();
        ZipEntry entry = zip.getEntry(name);
        if (entry == null) {
            throw DiscoException.badInput(file + ": " + key + ": storage data/" + s.key() + " missing from the archive");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(s.numel(), (long) s.type().dtype().bytes);
        } catch (ArithmeticException e) {
            throw DiscoException.badInput(file + ": " + key + ": storage data/" + s.key() + ": " + s.numel()
                    + " elements of " + s.type().dtype().bytes + " bytes overflow a 64-bit size");
        }
        if (entry.getSize() >= 0 && entry.getSize() < bytes) {
            throw DiscoException.badInput(file + ": " + key + ": storage data/" + s.key() + " holds " + entry.getSize()
                    + " bytes, expected " + bytes);
        }
        Tensor t = torch.empty(new long[] {s.numel()}, new TensorOptions(scalarType(s.type().dtype())), null);
        BytePointer dst = new BytePointer(t.data_ptr());
        byte[] buf = new byte[1 << 20];
        long done = 0;
        try (InputStream in = zip.getInputStream(entry)) {
            while (done < bytes) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, bytes - done));
                if (n < 0) throw new EOFException();
                dst.position(done).put(buf, 0, n);
                done += n;
            }
        } catch (EOFException | ZipException e) {
            throw DiscoException.badInput(file + ": " + key + ": storage data/" + s.key()
                    + " is truncated or corrupt (re-download the file)", e);
        }
        return t;
    }
}
