package disco.cli;

import disco.kernels.Kernels;
import disco.run.BuildLine;
import disco.torch.ElfFile;
import disco.torch.Torch;
import disco.torch.TorchLibraries;
import disco.util.ExitCodes;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code disco doctor}: what this build is and whether this machine runs it — the build line, Java, the CPU's
 * features, the host libraries LibTorch needs (checked before LibTorch is loaded, so a missing CUDA library is a
 * line here, not a crash), the CUDA devices and whether this build has code for their architecture, our kernels'
 * architectures, then LibTorch's version, configuration and threads. Ends with {@code OK} (exit 0) or
 * {@code PROBLEM: <the first problem>} (exit 1).
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Checks the build and this machine: LibTorch, its libraries, CPU, CUDA devices, kernels; ends with OK or the first problem.")
public final class DoctorCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--device", paramLabel = "cpu|cuda|auto", defaultValue = "auto",
            description = "what must work: cpu, cuda (a usable GPU is required), or auto (CUDA when this is a GPU build; default)")
    String device;

    /** The CPU flags (from /proc/cpuinfo) that LibTorch's kernels dispatch on. */
    private static final List<String> CPU_FLAGS = List.of("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f",
            "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16");

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (!List.of("cpu", "cuda", "auto").contains(device)) {
            throw disco.util.DiscoException.badInput("--device: expected cpu, cuda or auto, found '" + device + "'");
        }
        List<String> problems = new ArrayList<>();
        Properties b = BuildLine.properties();
        String profile = b.getProperty("profile", "unknown");
        out.printf("build      profile %s: org.bytedeco:pytorch %s (%s), javacpp %s, kernels' CUDA archs %s%n",
                profile, b.getProperty("pytorch.version", "?"), b.getProperty("torch.classifier", "?"),
                b.getProperty("javacpp.version", "?"), blank(b.getProperty("cuda.archs", "")) ? "none (CPU build)" : b.getProperty("cuda.archs"));
        out.printf("java       %s (%s), max heap %d MiB%n", System.getProperty("java.version"),
                System.getProperty("java.vm.name"), Runtime.getRuntime().maxMemory() >> 20);
        cpu(out);
        out.println("malloc     " + allocator());

        // host libraries: before anything of LibTorch is loaded
        TorchLibraries.Report libs = TorchLibraries.inspect();
        boolean gpuBuild = libs.gpu();
        boolean wantCuda = device.equals("cuda") || (device.equals("auto") && gpuBuild);
        out.printf("libtorch   natives %s: %d files in %s%n", libs.platformDir(), libs.files().size(), libs.dir());
        long found = libs.host().stream().filter(l -> !l.missing()).count();
        out.printf("libraries  %d host libraries needed, %d found, %d missing%n", libs.host().size(), found, libs.missing().size());
        for (TorchLibraries.Lib l : libs.host()) {
            if (l.missing()) out.printf("  MISSING  %-24s (needed by %s)%n", l.soname(), l.neededBy());
            else if (isCuda(l.soname())) out.printf("  found    %-24s %s%n", l.soname(), l.foundAt());
        }
        if (!libs.missing().isEmpty()) problems.add(libs.problem());

        // CUDA devices and architectures (our library's static CUDA runtime: no LibTorch needed)
        boolean kernelsCuda = Kernels.builtWithCudaNative();
        ElfFile.GpuArchs kArchs = BuildLine.kernelArchs();
        ElfFile.GpuArchs tArchs = gpuBuild ? BuildLine.torchArchs() : null;
        out.printf("kernels    %s: %s%n", Kernels.libraryFile(), kernelsCuda ? "CUDA " + version(Kernels.cudaVersions()[1]) + ", " + kArchs : "CPU only");
        if (tArchs != null) out.printf("libtorch   CUDA code: %s%n", tArchs);
        List<Kernels.CudaDevice> devs = kernelsCuda ? Kernels.cudaDevices() : List.of();
        if (kernelsCuda) {
            int driver = Kernels.cudaVersions()[0];
            out.printf("cuda       driver %s, %d device%s%s%n", driver == 0 ? "none" : version(driver), devs.size(),
                    devs.size() == 1 ? "" : "s", devs.isEmpty() ? " (" + Kernels.cudaDeviceError() + ")" : "");
            for (Kernels.CudaDevice d : devs) {
                out.printf("  cuda:%d   %s, sm_%d, %.1f GiB%n", d.index(), d.name(), d.sm(), d.totalBytes() / (double) (1L << 30));
                if (tArchs != null) {
                    String p = BuildLine.problem(d, tArchs, kArchs);
                    if (!p.isEmpty()) problems.add(p);
                } else {
                    out.printf("           a CPU build of LibTorch: %s runs there%n", BuildLine.lineFor(d.sm()));
                }
            }
        } else {
            out.println("cuda       not in this build (kernels built without CUDA)");
        }
        if (wantCuda) {
            if (!gpuBuild) problems.add("--device cuda: this is a CPU build of LibTorch (" + libs.platformDir() + "); build with -Pgpu or -Pgpu-cuda12");
            else if (!kernelsCuda) problems.add("disco_kernels was built without CUDA (build with -Pgpu or -Pgpu-cuda12)");
            else if (devs.isEmpty()) problems.add("no CUDA device: " + Kernels.cudaDeviceError());
        }

        // LibTorch itself, when it can be loaded
        if (libs.missing().isEmpty()) {
            Torch.init();
            out.printf("threads    intra-op %d, inter-op %d (OMP_NUM_THREADS=%s)%n", torch.get_num_threads(),
                    torch.get_num_interop_threads(), System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"));
            out.printf("libtorch   CUDA available: %s, devices %d, cuDNN: %s%n", torch.cuda_is_available(),
                    (int) torch.cuda_device_count(), torch.cudnn_is_available());
            if (wantCuda && gpuBuild && !devs.isEmpty() && !torch.cuda_is_available()) {
                problems.add("LibTorch sees no CUDA device although the driver lists " + devs.size());
            }
            out.println("libtorch   configuration:");
            for (String line : torch.show_config().getString().split("\n")) {
                if (!line.isBlank()) out.println("  " + line.strip());
            }
            out.println("libtorch   parallel:");
            for (String line : torch.get_parallel_info().getString().split("\n")) {
                if (!line.isBlank()) out.println("  " + line.strip());
            }
        } else {
            out.println("libtorch   not loaded (libraries missing)");
        }
        out.println(problems.isEmpty() ? "OK" : "PROBLEM: " + problems.get(0));
        out.flush();
        return problems.isEmpty() ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    }

    /** The allocator this process runs with: jemalloc when mapped (./disco preloads it where installed), else glibc's. */
    static String allocator() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int at = line.indexOf('/');
                if (at >= 0 && line.contains("libjemalloc")) {
                    return "jemalloc " + line.substring(at).strip() + " (MALLOC_CONF="
                            + System.getenv().getOrDefault("MALLOC_CONF", "unset") + ")";
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return "unknown (/proc/self/maps unreadable: " + e.getMessage() + ")";
        }
        return "glibc (./disco preloads jemalloc where libjemalloc.so.2 is installed, e.g. apt-get install libjemalloc2:"
                + " at real sizes on the CPU about 1.5 GiB less peak memory, bench/README.md; DISCO_MALLOC=glibc keeps glibc)";
    }

    private static void cpu(PrintWriter out) {
        Path info = Path.of("/proc/cpuinfo");
        String model = "unknown";
        Set<String> flags = new LinkedHashSet<>();
        try {
            for (String line : Files.readAllLines(info)) {
                int c = line.indexOf(':');
                if (c < 0) continue;
                String k = line.substring(0, c).trim(), v = line.substring(c + 1).trim();
                if (k.equals("model name") && model.equals("unknown")) model = v;
                if (k.equals("flags") && flags.isEmpty()) flags.addAll(List.of(v.split("\\s+")));
            }
        } catch (IOException e) {
            out.println("cpu        /proc/cpuinfo unreadable: " + e.getMessage());
            return;
        }
        List<String> have = new ArrayList<>(), lack = new ArrayList<>();
        for (String f : CPU_FLAGS) (flags.contains(f) ? have : lack).add(f);
        out.printf("cpu        %s, %d logical cores; has %s; lacks %s%n", model, Runtime.getRuntime().availableProcessors(),
                have.isEmpty() ? "none" : String.join(" ", have), lack.isEmpty() ? "none" : String.join(" ", lack));
    }

    private static boolean isCuda(String soname) {
        return soname.startsWith("libcu") || soname.startsWith("libnv") || soname.startsWith("libnccl");
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank() || s.startsWith("${");
    }

    private static String version(int v) {
        return v == 0 ? "none" : (v / 1000) + "." + (v % 1000) / 10;
    }
}
