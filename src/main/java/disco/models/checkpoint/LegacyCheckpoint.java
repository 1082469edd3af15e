package disco.models.checkpoint;

import disco.models.checkpoint.SafeUnpickler.StorageRef;
import disco.models.checkpoint.SafeUnpickler.TensorRef;
import disco.torch.Torch;
import disco.util.DiscoException;
import net.razorvine.pickle.PickleException;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * torch's legacy (pre-1.6, non-zip) {@code torch.save} format, as torchvision's {@code vgg16-397923af.pth} and
 * LPIPS's {@code weights/v0.1/vgg.pth} are written: five pickles one after the other — the magic number
 * {@code 0x1950a86a20f9469cfc6c}, the protocol version 1001, the sys-info dict (little-endian), the state_dict
 * (storages as persistent ids {@code ('storage', type, key, location, numel, view_metadata)}) and the list of
 * storage keys — then, in that key order, each storage as its element count (int64, little-endian) and its raw
 * little-endian data. The pickles go through the same allowlisted unpickler as zip files; the storages are read one
 * at a time, in file order.
 */
final class LegacyCheckpoint {
    private LegacyCheckpoint() {}

    private static final BigInteger MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final long PROTOCOL_VERSION = 1001;

    /** The pickles, read; the stream stands at the first storage. */
    private record Parsed(LinkedHashMap<String, TensorRef> refs, List<String> keys,
                          Map<String, StorageRef> storages) {}

    static Map<String, long[]> shapes(Path file) {
        try (InputStream in = open(file)) {
            Map<String, long[]> out = new LinkedHashMap<>();
            parse(in, file).refs().forEach((k, t) -> out.put(k, t.size().clone()));
            return out;
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    static Map<String, Tensor> read(Path file) {
        Torch.init();
        try (InputStream in = open(file)) {
            Parsed p = parse(in, file);
            Map<String, List<String>> byStorage = byStorage(p, Set.of());
            Map<String, Tensor> views = new HashMap<>();
            for (String key : p.keys()) {
                StorageRef s = p.storages().get(key);
                List<String> users = byStorage.getOrDefault(key, List.of());
                Tensor storage = readStorage(in, s, file);
                for (String name : users) {
                    TensorRef t = p.refs().get(name);
                    views.put(name, storage.as_strided(t.size(), t.stride(), new LongOptional(t.offset())));
                }
                storage.close(); // the views hold it
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String name : p.refs().keySet()) out.put(name, views.get(name));
            return Collections.unmodifiableMap(out);
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    static void load(Module module, Path file, Set<String> ignored) {
        try (InputStream in = open(file)) {
            Parsed p = parse(in, file);
            Map<String, TorchCheckpoint.Spec> specs = new LinkedHashMap<>();
            p.refs().forEach((k, t) -> specs.put(k, new TorchCheckpoint.Spec(t.size(),
                    TorchCheckpoint.scalarType(t.storage().type().dtype()))));
            Map<String, Tensor> target = TorchCheckpoint.stateDict(module);
            TorchCheckpoint.checkCompatible(target, specs, file, ignored);
            Set<String> skip = new java.util.HashSet<>(p.refs().keySet());
            skip.removeAll(target.keySet());
            Map<String, List<String>> byStorage = byStorage(p, skip);
            try (NoGradGuard guard = new NoGradGuard()) {
                for (String key : p.keys()) {
                    StorageRef s = p.storages().get(key);
                    List<String> users = byStorage.get(key);
                    if (users == null) { // only ignored keys (e.g. torchvision's classifier) live here
                        skipStorage(in, s, file);
                        continue;
                    }
                    Tensor storage = readStorage(in, s, file);
                    for (String name : users) {
                        TensorRef t = p.refs().get(name);
                        Tensor view = storage.as_strided(t.size(), t.stride(), new LongOptional(t.offset()));
                        target.get(name).copy_(view);
                        view.close();
                    }
                    storage.close();
                }
            }
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** Storage key → the state_dict keys viewing it (except {@code skip}), in file order. */
    private static Map<String, List<String>> byStorage(Parsed p, Set<String> skip) {
        Map<String, List<String>> m = new LinkedHashMap<>();
        for (Map.Entry<String, TensorRef> e : p.refs().entrySet()) {
            if (skip.contains(e.getKey())) continue;
            m.computeIfAbsent(e.getValue().storage().key(), k -> new ArrayList<>()).add(e.getKey());
        }
        return m;
    }

    private static InputStream open(Path file) {
        try {
            return new BufferedInputStream(Files.newInputStream(file), 1 << 20);
        } catch (NoSuchFileException e) {
            throw DiscoException.badInput(file + ": no such file");
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    private static Object pickle(InputStream in, Path file, String what, SafeUnpickler up) {
        try {
            return up.load(in);
        } catch (SafeUnpickler.RefusedGlobal e) {
            throw DiscoException.badInput(file + ": " + what + ": " + e.getMessage(), e);
        } catch (PickleException | ClassCastException | IllegalArgumentException e) {
            throw DiscoException.badInput(file + ": " + what + ": not a legacy PyTorch checkpoint pickle ("
                    + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": " + what + ": truncated (" + e.getMessage() + ")", e);
        }
    }

    private static Parsed parse(InputStream in, Path file) {
        Object magic = pickle(in, file, "magic number", new SafeUnpickler(false));
        if (!(magic instanceof Number m) || !new BigInteger(m.toString()).equals(MAGIC)) {
            throw DiscoException.badInput(file + ": not a legacy PyTorch checkpoint (wrong magic number)");
        }
        Object version = pickle(in, file, "protocol version", new SafeUnpickler(false));
        if (!(version instanceof Number v) || v.longValue() != PROTOCOL_VERSION) {
            throw DiscoException.badInput(file + ": protocol version: expected " + PROTOCOL_VERSION + ", found " + version);
        }
        Object sys = pickle(in, file, "sys info", new SafeUnpickler(false));
        if (sys instanceof Map<?, ?> info && Boolean.FALSE.equals(info.get("little_endian"))) {
            throw DiscoException.badInput(file + ": sys info: little_endian: expected True (a big-endian file is not read)");
        }
        SafeUnpickler up = new SafeUnpickler(false);
        Object root = pickle(in, file, "state_dict", up);
        LinkedHashMap<String, TensorRef> refs = TorchCheckpoint.stateDictRefs(root, file, "state_dict");
        Object keysObj = pickle(in, file, "storage keys", new SafeUnpickler(false));
        if (!(keysObj instanceof List<?> keyList)) {
            throw DiscoException.badInput(file + ": storage keys: expected a list, found " + TorchCheckpoint.describe(keysObj));
        }
        List<String> keys = new ArrayList<>();
        for (Object k : keyList) keys.add(String.valueOf(k));
        Map<String, StorageRef> storages = up.storages();
        if (keys.size() != storages.size() || !storages.keySet().containsAll(keys)) {
            throw DiscoException.badInput(file + ": storage keys: the list " + abbreviate(keys)
                    + " does not match the storages the state_dict names " + abbreviate(storages.keySet()));
        }
        TorchCheckpoint.validateViews(refs, file);
        return new Parsed(refs, keys, storages);
    }

    private static String abbreviate(java.util.Collection<String> c) {
        String s = c.toString();
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }

    /** The storage's header (element count) checked against the pickle's. */
    private static long header(InputStream in, StorageRef s, Path file) throws IOException {
        byte[] b = new byte[8];
        if (in.readNBytes(b, 0, 8) != 8) {
            throw DiscoException.badInput(file + ": storage " + s.key() + ": truncated (re-download the file)");
        }
        long n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | (b[i] & 0xff);
        if (n != s.numel()) {
            throw DiscoException.badInput(file + ": storage " + s.key() + ": holds " + n + " elements, the state_dict says "
                    + s.numel());
        }
        try {
            return Math.multiplyExact(n, (long) s.type().dtype().bytes);
        } catch (ArithmeticException e) {
            throw DiscoException.badInput(file + ": storage " + s.key() + ": " + n + " elements overflow a 64-bit size");
        }
    }

    private static void skipStorage(InputStream in, StorageRef s, Path file) throws IOException {
        long bytes = header(in, s, file);
        try {
            in.skipNBytes(bytes);
        } catch (EOFException e) {
            throw DiscoException.badInput(file + ": storage " + s.key() + ": truncated (re-download the file)", e);
        }
    }

    private static Tensor readStorage(InputStream in, StorageRef s, Path file) throws IOException {
        long bytes = header(in, s, file);
        Tensor t = torch.empty(new long[] {s.numel()}, new TensorOptions(TorchCheckpoint.scalarType(s.type().dtype())), null);
        BytePointer dst = new BytePointer(t.data_ptr());
        byte[] buf = new byte[1 << 20];
        long done = 0;
        while (done < bytes) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, bytes - done));
            if (n < 0) {
                t.close();
                throw DiscoException.badInput(file + ": storage " + s.key() + ": truncated (re-download the file)");
            }
            dst.position(done).put(buf, 0, n);
            done += n;
        }
        return t;
    }
}
