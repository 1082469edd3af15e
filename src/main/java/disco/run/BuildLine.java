package disco.run;

import disco.kernels.Kernels;
import disco.torch.ElfFile;
import disco.torch.TorchLibraries;
import disco.util.DiscoException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The build line this jar was built with ({@code disco/build.properties}, written by Maven from the profile) and
 * whether a CUDA device can run it: the device's compute capability against the GPU code in LibTorch's
 * {@code libtorch_cuda.so} and in our {@code libdisco_kernels.so} (read from their fat binaries, {@link ElfFile}).
 */
public final class BuildLine {
    private BuildLine() {}

    /** The profile and versions of this build ({@code profile}, {@code pytorch.version}, ...). */
    public static Properties properties() {
        Properties p = new Properties();
        try (InputStream in = BuildLine.class.getResourceAsStream("/disco/build.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** The build line that runs on a GPU of compute capability {@code sm}, as a sentence. */
    public static String lineFor(int sm) {
        if (sm >= 75) return "the gpu line (mvn -Pgpu package: LibTorch 2.10 + CUDA 13, sm_75 and newer)";
        if (sm >= 60) return "the gpu-cuda12 line (mvn -Pgpu-cuda12 package: LibTorch 2.7.1 + CUDA 12.9, sm_60 to sm_90)";
        return "no build line (LibTorch's CUDA builds need sm_60 or newer)";
    }

    /** LibTorch's GPU code (empty for a CPU build). */
    public static ElfFile.GpuArchs torchArchs() {
        Path f = TorchLibraries.inspect().dir().resolve("libtorch_cuda.so");
        return archs(f);
    }

    /** Our kernels' GPU code (empty for a CPU build). */
    public static ElfFile.GpuArchs kernelArchs() {
        return archs(Kernels.libraryFile());
    }

    private static ElfFile.GpuArchs archs(Path f) {
        if (!Files.isRegularFile(f)) return new ElfFile.GpuArchs(new java.util.TreeMap<>(), new java.util.TreeMap<>());
        try {
            return ElfFile.gpuArchs(f);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Why this build cannot run on {@code dev} (one line naming the build that would), or "" when it can. */
    public static String problem(Kernels.CudaDevice dev, ElfFile.GpuArchs torch, ElfFile.GpuArchs kernels) {
        String what = null;
        if (!torch.runsOn(dev.sm())) what = "LibTorch's (" + torch + ")";
        else if (!kernels.runsOn(dev.sm())) what = "disco_kernels' (" + kernels + ")";
        if (what == null) return "";
        return "GPU " + dev.index() + " (" + dev.name() + ", sm_" + dev.sm() + ") is not among the architectures of "
                + what + " in this " + properties().getProperty("profile", "?") + " build; " + lineFor(dev.sm())
                + " runs there";
    }

    /** Refuses a CUDA device this build cannot run on, before any kernel is launched. */
    public static void requireRunsOn(int deviceIndex) {
        java.util.List<Kernels.CudaDevice> devs = Kernels.cudaDevices();
        if (deviceIndex >= devs.size()) return;  // LibTorch has said there is a device; nothing more to check
        String p = problem(devs.get(deviceIndex), torchArchs(), kernelArchs());
        if (!p.isEmpty()) throw DiscoException.badInput("--device cuda: " + p);
    }
}
