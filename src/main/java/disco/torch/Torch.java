package disco.torch;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

/**
 * Loads ByteDeco's LibTorch once, from the jars' own copy: {@code Loader.cacheResources} first, so that a system
 * libtorch (e.g. Debian's) is never picked up by the JVM.
 */
public final class Torch {
    private static volatile boolean loaded;

    private Torch() {}

    public static void init() {
        if (loaded) return;
        synchronized (Torch.class) {
            if (loaded) return;
            try {
                Loader.cacheResources(torch.class, Loader.getPlatform());
            } catch (Exception e) {
                throw new IllegalStateException("cannot unpack LibTorch's native libraries: " + e.getMessage(), e);
            }
            Loader.load(torch.class);
            loaded = true;
        }
    }
}
