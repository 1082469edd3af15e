package disco.torch;

import disco.util.DiscoException;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * The shared libraries LibTorch's native files need from the host, found or missing, worked out before anything
 * is loaded: the LibTorch files of the jars on the class path are unpacked into JavaCPP's cache (the platform's
 * {@code -gpu} directory when the CUDA jar is there), their ELF {@code DT_NEEDED} entries are read
 * ({@link ElfFile}) and followed through the libraries they find, and each soname that no jar on the class path
 * ships is looked for as the dynamic loader would: the file's {@code RUNPATH} ({@code $ORIGIN} expanded),
 * {@code LD_LIBRARY_PATH}, {@code ldconfig}'s cache and the default directories. A missing library is reported
 * here, by name with what to install, instead of a JVM crash inside the loader (or JavaCPP falling back to a
 * system libtorch).
 */
public final class TorchLibraries {
    /** A soname a LibTorch file needs from the host: where it was found (null: missing), and who needs it. */
    public record Lib(String soname, String foundAt, String neededBy) {
        public boolean missing() {
            return foundAt == null;
        }
    }

    /**
     * The LibTorch natives: the JavaCPP platform directory ({@code linux-x86_64} or {@code linux-x86_64-gpu}),
     * the unpacked directory, its files, and the host libraries they need.
     */
    public record Report(String platformDir, Path dir, List<Path> files, List<Lib> host) {
        public boolean gpu() {
            return platformDir.endsWith("-gpu");
        }

        public List<Lib> missing() {
            return host.stream().filter(Lib::missing).toList();
        }

        /** One line: which libraries are missing and what to install (empty when none is). */
        public String problem() {
            List<Lib> m = missing();
            if (m.isEmpty()) return "";
            List<String> names = m.stream().map(Lib::soname).toList();
            return "LibTorch's " + platformDir + " libraries need " + names.size() + " host librar"
                    + (names.size() == 1 ? "y" : "ies") + " that this machine lacks: " + String.join(", ", names)
                    + " — " + hint(names) + "; `disco doctor` lists what it found";
        }
    }

    private static final List<String> DEFAULT_DIRS = List.of("/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib");

    private static volatile Report cached;

    private TorchLibraries() {}

    /** The report for the LibTorch jars on the class path (computed once per JVM). */
    public static Report inspect() {
        Report r = cached;
        if (r != null) return r;
        synchronized (TorchLibraries.class) {
            if (cached != null) return cached;
            String platform = Loader.getPlatform();
            String dirName = null;
            for (String ext : List.of("-gpu", "")) {
                if (torch.class.getResource("/org/bytedeco/pytorch/" + platform + ext + "/libtorch_cpu.so") != null) {
                    dirName = platform + ext;
                    break;
                }
            }
            if (dirName == null) {
                throw DiscoException.badInput("no LibTorch native library for " + platform + " on the class path"
                        + " (org.bytedeco:pytorch with classifier " + platform + " or " + platform + "-gpu)");
            }
            File[] dirs;
            try {
                dirs = Loader.cacheResources(torch.class, dirName);
            } catch (IOException e) {
                throw new IllegalStateException("cannot unpack LibTorch's native libraries: " + e.getMessage(), e);
            }
            if (dirs.length == 0) throw new IllegalStateException("JavaCPP unpacked no LibTorch files for " + dirName);
            Path dir = dirs[0].toPath();
            Set<String> shipped = shippedLibraries();
            cached = inspect(dirName, dir, shipped, searchDirs(System.getenv("LD_LIBRARY_PATH")), TorchLibraries::ldconfigCache);
            return cached;
        }
    }

    /** Throws the one-line report when a library is missing (before {@link Torch#init()} loads anything). */
    public static void require() {
        Report r = inspect();
        if (!r.missing().isEmpty()) throw DiscoException.badInput(r.problem());
    }

    /** A lookup of sonames in the loader's cache ({@code ldconfig -p}); an empty map where there is none. */
    interface Cache {
        Map<String, String> get();
    }

    /**
     * The report for the LibTorch files in {@code dir}: the sonames they need (transitively, through the host
     * libraries found) that neither {@code dir} nor {@code shipped} holds, looked for in each file's RUNPATH, then
     * {@code searchDirs}, then {@code cache}.
     */
    static Report inspect(String platformDir, Path dir, Set<String> shipped, List<String> searchDirs, Cache cache) {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().contains(".so")).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        Set<String> local = new TreeSet<>(shipped);
        for (Path f : files) local.add(f.getFileName().toString());
        Map<String, Lib> host = new LinkedHashMap<>();
        ArrayDeque<Path> todo = new ArrayDeque<>(files);
        Set<Path> seen = new LinkedHashSet<>();
        Map<String, String> ld = null;
        while (!todo.isEmpty()) {
            Path f = todo.poll();
            if (!seen.add(f)) continue;
            ElfFile.Dynamic d;
            try {
                d = ElfFile.dynamic(f);
            } catch (IOException e) {
                continue;  // an unreadable host library: the loader will say so; it is found, which is all we check
            }
            for (String need : d.needed()) {
                if (local.contains(need) || host.containsKey(need)) continue;
                String at = null;
                List<String> dirs = new ArrayList<>();
                String origin = f.getParent() == null ? "." : f.getParent().toString();
                for (String rp : d.runpath()) dirs.add(rp.replace("${ORIGIN}", origin).replace("$ORIGIN", origin));
                dirs.addAll(searchDirs);
                for (String sd : dirs) {
                    Path p = Path.of(sd).resolve(need);
                    if (Files.isRegularFile(p)) {
                        at = p.toString();
                        break;
                    }
                }
                if (at == null) {
                    if (ld == null) ld = cache.get();
                    at = ld.get(need);
                }
                host.put(need, new Lib(need, at, f.getFileName().toString()));
                if (at != null) todo.add(Path.of(at));
            }
        }
        return new Report(platformDir, dir, files, List.copyOf(host.values()));
    }

    /** {@code LD_LIBRARY_PATH}'s directories, then the default ones. */
    static List<String> searchDirs(String ldLibraryPath) {
        List<String> out = new ArrayList<>();
        if (ldLibraryPath != null) for (String d : ldLibraryPath.split(":")) if (!d.isEmpty()) out.add(d);
        out.addAll(DEFAULT_DIRS);
        return out;
    }

    /** What to install for the missing {@code sonames}, by family (CUDA's major version read from the names). */
    static String hint(List<String> sonames) {
        String cudaMajor = null;
        for (String s : sonames) {
            if (s.startsWith("libcudart.so.") || s.startsWith("libcublas.so.") || s.startsWith("libnvrtc.so.")) {
                cudaMajor = s.substring(s.lastIndexOf(".so.") + 4).split("\\.")[0];
                break;
            }
        }
        String cuda = cudaMajor == null ? "CUDA" : "CUDA " + cudaMajor;
        Set<String> what = new LinkedHashSet<>();
        for (String s : sonames) {
            if (s.startsWith("libcudnn")) what.add("cuDNN 9 for " + cuda + " (NVIDIA's cudnn9-cuda-" + (cudaMajor == null ? "N" : cudaMajor) + ")");
            else if (s.startsWith("libnccl")) what.add("NCCL 2 (libnccl2)");
            else if (s.startsWith("libcufile")) what.add("cuFile (NVIDIA's libcufile-" + (cudaMajor == null ? "N" : cudaMajor) + "-x)");
            else if (s.startsWith("libcu") || s.startsWith("libnv")) {
                what.add(cuda + "'s runtime libraries (NVIDIA's cuda-libraries-" + (cudaMajor == null ? "N" : cudaMajor) + "-x: cudart, cuBLAS, cuSPARSE, cuFFT, cuRAND, cuSOLVER, CUPTI)");
            } else what.add("the package that provides " + s);
        }
        return "install " + String.join(", ", what) + " and put their lib directories on LD_LIBRARY_PATH"
                + " (or use a CPU build: mvn package without -Pgpu)";
    }

    /** Native file names in the jars on the class path (JavaCPP unpacks and preloads these itself). */
    static Set<String> shippedLibraries() {
        Set<String> out = new TreeSet<>();
        Set<String> jars = new LinkedHashSet<>();
        try {
            Enumeration<URL> e = TorchLibraries.class.getClassLoader().getResources("META-INF/MANIFEST.MF");
            for (URL u : Collections.list(e)) {
                String s = u.toString();
                if (s.startsWith("jar:file:") && s.contains("!/")) jars.add(s.substring("jar:file:".length(), s.indexOf("!/")));
            }
        } catch (IOException e) {
            return out;
        }
        for (String cp : System.getProperty("java.class.path", "").split(File.pathSeparator)) if (cp.endsWith(".jar")) jars.add(cp);
        for (String j : jars) {
            String path = java.net.URLDecoder.decode(j, StandardCharsets.UTF_8);
            try (JarFile jf = new JarFile(path)) {
                for (JarEntry en : Collections.list(jf.entries())) {
                    String n = en.getName();
                    if (!n.startsWith("org/bytedeco/") || en.isDirectory()) continue;
                    String base = n.substring(n.lastIndexOf('/') + 1);
                    if (base.contains(".so")) out.add(base);
                }
            } catch (IOException ignored) {
                // not a jar we can read: it ships nothing we could count
            }
        }
        return out;
    }

    /** {@code ldconfig -p}: soname to path, x86-64 entries only; empty when ldconfig is not there. */
    private static Map<String, String> ldconfigCache() {
        Map<String, String> out = new LinkedHashMap<>();
        for (String exe : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig")) {
            if (exe.startsWith("/") && !Files.isExecutable(Path.of(exe))) continue;
            try {
                Process p = new ProcessBuilder(exe, "-p").redirectErrorStream(true).start();
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        int arrow = line.indexOf(" => "), paren = line.indexOf(" (");
                        if (arrow < 0 || paren < 0 || paren > arrow) continue;
                        String flags = line.substring(paren, arrow);
                        if (!flags.contains("x86-64")) continue;
                        out.putIfAbsent(line.substring(0, paren).trim(), line.substring(arrow + 4).trim());
                    }
                }
                p.waitFor(10, TimeUnit.SECONDS);
                return out;
            } catch (IOException e) {
                // try the next place ldconfig may be
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return out;
            }
        }
        return out;
    }
}
