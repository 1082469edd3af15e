package disco.torch;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * {@code @ExtendWith(OneThread.class)}: LibTorch's intra-op threads set to 1 for a test class of tiny tensors (on a
 * shared 2-core machine the extra threads only add waiting), and restored after it.
 */
public final class OneThread implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(OneThread.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        Torch.init();
        context.getStore(NS).put("threads", torch.get_num_threads());
        torch.set_num_threads(1);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        Integer before = context.getStore(NS).get("threads", Integer.class);
        if (before != null) torch.set_num_threads(before);
    }
}
