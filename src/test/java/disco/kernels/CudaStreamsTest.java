package disco.kernels;

import disco.torch.Torch;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** LibTorch's current CUDA stream for the kernels: 0 on the CPU, and no CUDA library loaded to find that out. */
class CudaStreamsTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void cpuAndNoCudaGiveTheDefaultStreamWithoutLoadingCuda() {
        Kernels.init();
        // LibTorch's own loading may preload a host libcudart; what counts is that asking for the stream loads nothing
        java.util.Set<String> loaded = new java.util.HashSet<>(Loader.getLoadedLibraries().keySet());
        assertEquals(0, CudaStreams.current(-1), "the CPU's index");
        assertEquals(0, CudaStreams.of(torch.ones(2)), "a CPU tensor");
        Assumptions.assumeFalse(torch.cuda_is_available(), "this machine has CUDA");
        assertEquals(0, CudaStreams.current(0));
        assertEquals(0, CudaStreams.current(3));
        assertEquals("LibTorch has no CUDA", CudaStreams.unavailableReason());
        assertEquals(loaded, Loader.getLoadedLibraries().keySet(), "CudaStreams loaded a library");
        for (String lib : Loader.getLoadedLibraries().keySet()) {
            assertFalse(lib.contains("torch_cuda") || lib.contains("c10_cuda"), "LibTorch's CUDA part was loaded: " + lib);
        }
        // the bindings' CUDA classes were never initialised (their static initialiser would load jnitorch_cuda)
        assertFalse(Loader.getLoadedLibraries().containsKey("jnitorch_cuda"));
    }
}
