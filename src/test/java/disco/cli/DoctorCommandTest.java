package disco.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code disco doctor}: the configuration and OK here; a GPU build on a machine without CUDA's libraries. */
class DoctorCommandTest {
    @Test
    void printsTheConfigurationAndOkOnThisMachine() {
        CliRun.Result r = CliRun.execThroughWriters("doctor", "--device", "cpu");
        assertEquals(0, r.code(), r.stdout() + r.stderr());
        for (String k : new String[]{"build      profile", "cpu        ", "libraries  ", "kernels    ", "threads    intra-op", "malloc     ",
                "libtorch   configuration:", "TORCH_VERSION="}) {
            assertTrue(r.stdout().contains(k), k + " in\n" + r.stdout());
        }
        assertTrue(r.stdout().strip().endsWith("OK"), r.stdout());
    }

    @Test
    void cudaOnACpuBuildIsTheProblem() {
        CliRun.Result r = CliRun.execThroughWriters("doctor", "--device", "cuda");
        assertEquals(1, r.code(), r.stdout() + r.stderr());
        assertTrue(r.stdout().strip().lines().reduce((a, b) -> b).orElse("").startsWith("PROBLEM: "), r.stdout());
    }

    @Test
    void aBadDeviceIsOneLine() {
        CliRun.Result r = CliRun.execThroughWriters("doctor", "--device", "tpu");
        assertEquals(2, r.code());
        assertTrue(r.stderr().contains("--device"), r.stderr());
    }

    /**
     * The gpu line's LibTorch jar (when Maven has it locally: {@code mvn -Pgpu} or {@code dependency:get} fetched
     * it) on a machine without the CUDA libraries it needs: doctor and a command that loads LibTorch name the
     * missing libraries and exit non-zero, in a separate JVM (a crash would show as a signal exit and hs_err).
     */
    @Test
    void theGpuJarsWithoutTheirLibrariesAreNamedNotACrash() throws Exception {
        String cp = System.getProperty("java.class.path");
        String cpuJar = null;
        for (String e : cp.split(java.io.File.pathSeparator)) if (e.matches(".*/pytorch-[^/]*-linux-x86_64\\.jar")) cpuJar = e;
        assumeTrue(cpuJar != null, "no LibTorch CPU jar on the class path");
        Path gpuJar = Path.of(cpuJar.replace("-linux-x86_64.jar", "-linux-x86_64-gpu.jar"));
        assumeTrue(Files.isRegularFile(gpuJar), "the gpu line's jar is not in the local Maven repository: " + gpuJar);
        String gcp = cp.replace(cpuJar, gpuJar.toString());
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        // an empty LD_LIBRARY_PATH and no ldconfig cache entries decide nothing here: the machine may have some
        // CUDA libraries; the check is that doctor's verdict and its exit code agree, and that nothing crashes
        ProcessBuilder pb = new ProcessBuilder(java.toString(), "-cp", gcp, "disco.cli.Main", "doctor").redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertTrue(out.contains("natives linux-x86_64-gpu"), out);
        boolean missing = out.contains("  MISSING  ");
        assumeTrue(missing, "this machine has every library the gpu jars need");
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.strip().lines().reduce((a, b) -> b).orElse("").startsWith("PROBLEM: LibTorch's linux-x86_64-gpu libraries need"), out);
        assertFalse(out.contains("SIGSEGV"), out);

        Process run = new ProcessBuilder(java.toString(), "-cp", gcp, "disco.cli.Main", "demo", "--steps", "4", "--out",
                Files.createTempDirectory("doctor-gpu").toString()).redirectErrorStream(true).start();
        String runOut = new String(run.getInputStream().readAllBytes());
        assertTrue(run.waitFor(120, TimeUnit.SECONDS));
        assertEquals(2, run.exitValue(), runOut);
        assertTrue(runOut.startsWith("disco: LibTorch's linux-x86_64-gpu libraries need"), runOut);
        assertFalse(runOut.contains("SIGSEGV"), runOut);
    }
}
