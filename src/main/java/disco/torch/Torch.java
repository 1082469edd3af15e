package disco.torch;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

/**
 * Loads ByteDeco's LibTorch once, from the jars' own copy: {@link TorchLibraries} unpacks it into JavaCPP's cache
 * first (the {@code -gpu} directory with the CUDA jar), so that a system libtorch (e.g. Debian's) is never picked
 * up by the JVM, and checks that every host library it needs is there: a missing one (CUDA, cuDNN, NCCL for the
 * GPU jars) is one line naming it ({@link disco.util.DiscoException}, exit 2) before anything is loaded.
 */
public final class Torch {
    private static volatile boolean loaded;

    private Torch() {}

    public static void init() {
        if (loaded) return;
        synchronized (Torch.class) {
            if (loaded) return;
            TorchLibraries.require();
            Loader.load(torch.class);
            loaded = true;
        }
    }
}
