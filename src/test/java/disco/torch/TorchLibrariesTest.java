package disco.torch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host-library check that runs before LibTorch is loaded, and the ELF reading under it. */
class TorchLibrariesTest {
    @Test
    void theLibTorchOfTheTestClassPathNeedsNothingMissing() throws IOException {
        TorchLibraries.Report r = TorchLibraries.inspect();
        assertTrue(r.files().stream().anyMatch(f -> f.getFileName().toString().equals("libtorch_cpu.so")), r.files().toString());
        List<String> needed = ElfFile.dynamic(r.dir().resolve("libtorch_cpu.so")).needed();
        assertTrue(needed.contains("libc10.so"), needed.toString());
        assertTrue(needed.contains("libc.so.6"), needed.toString());
        assertTrue(r.host().stream().anyMatch(l -> l.soname().equals("libc.so.6") && !l.missing()), r.host().toString());
        assertEquals(List.of(), r.missing(), r.problem());
        assertEquals("", r.problem());
    }

    /** A library whose dependency is not on the machine: named, with who needs it, and the one line to act on. */
    @Test
    void aMissingDependencyIsNamedBeforeAnythingLoads(@TempDir Path dir) throws Exception {
        Path src = dir.resolve("x.c");
        Files.writeString(src, "int disco_fake(void) { return 1; }\n");
        Path depDir = Files.createDirectories(dir.resolve("dep")), libDir = Files.createDirectories(dir.resolve("lib"));
        cc("cc", "-shared", "-fPIC", "-o", depDir.resolve("libcudart.so.13").toString(),
                "-Wl,-soname,libcudart.so.13", src.toString());
        cc("cc", "-shared", "-fPIC", "-o", libDir.resolve("libtorch_cuda.so").toString(), src.toString(),
                "-Wl,--no-as-needed", depDir.resolve("libcudart.so.13").toString(), "-Wl,-rpath,$ORIGIN/../nowhere");
        assertTrue(ElfFile.dynamic(libDir.resolve("libtorch_cuda.so")).needed().contains("libcudart.so.13"));
        assertEquals(List.of("$ORIGIN/../nowhere"), ElfFile.dynamic(libDir.resolve("libtorch_cuda.so")).runpath());

        // found where LD_LIBRARY_PATH points
        TorchLibraries.Report found = TorchLibraries.inspect("linux-x86_64-gpu", libDir, Set.of(),
                TorchLibraries.searchDirs(depDir.toString()), Map::of);
        assertEquals(List.of(), found.missing());
        // found through the loader's cache
        TorchLibraries.Report cached = TorchLibraries.inspect("linux-x86_64-gpu", libDir, Set.of(),
                TorchLibraries.searchDirs(null), () -> Map.of("libcudart.so.13", depDir.resolve("libcudart.so.13").toString()));
        assertEquals(List.of(), cached.missing());
        // shipped by a jar on the class path
        assertEquals(List.of(), TorchLibraries.inspect("linux-x86_64-gpu", libDir, Set.of("libcudart.so.13"),
                TorchLibraries.searchDirs(null), Map::of).missing());
        // nowhere: reported
        TorchLibraries.Report r = TorchLibraries.inspect("linux-x86_64-gpu", libDir, Set.of(),
                TorchLibraries.searchDirs(null), Map::of);
        assertTrue(r.gpu());
        assertEquals(List.of(new TorchLibraries.Lib("libcudart.so.13", null, "libtorch_cuda.so")), r.missing());
        assertTrue(r.problem().contains("libcudart.so.13"), r.problem());
        assertTrue(r.problem().contains("CUDA 13"), r.problem());
        assertFalse(r.problem().contains("\n"));
    }

    @Test
    void hintsNameWhatToInstall() {
        String h = TorchLibraries.hint(List.of("libcublas.so.12", "libcudnn.so.9", "libnccl.so.2", "libfoo.so.1"));
        assertTrue(h.contains("CUDA 12"), h);
        assertTrue(h.contains("cuDNN 9"), h);
        assertTrue(h.contains("NCCL"), h);
        assertTrue(h.contains("libfoo.so.1"), h);
    }

    @Test
    void aFileThatIsNotElfHasNoDependencies(@TempDir Path dir) throws IOException {
        Path f = Files.writeString(dir.resolve("libnot.so"), "not an ELF file");
        assertEquals(List.of(), ElfFile.dynamic(f).needed());
        assertTrue(ElfFile.gpuArchs(f).isEmpty());
    }

    @Test
    void gpuArchsRunOnTheSameMajorAndOnNewerGpusThroughPtx() {
        ElfFile.GpuArchs a = new ElfFile.GpuArchs(new java.util.TreeMap<>(Map.of(75, 1, 80, 1)), new java.util.TreeMap<>(Map.of(90, 1)));
        assertTrue(a.runsOn(86));   // sm_80 SASS
        assertTrue(a.runsOn(75));
        assertFalse(a.runsOn(70));
        assertFalse(a.runsOn(60));
        assertTrue(a.runsOn(100));  // PTX 90, JIT
        assertEquals("sm_75 sm_80 compute_90 (PTX)", a.toString());
    }

    private static void cc(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
    }
}
