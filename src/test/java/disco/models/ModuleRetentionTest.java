package disco.models;

import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetModel;
import org.bytedeco.pytorch.Module;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * LibTorch's eval()/train() call back into every child's Java object; a child held by no Java field (a container
 * such as in_layers) must not be collected while its network lives, or eval() fails inside the native call.
 */
class ModuleRetentionTest {
    private static void collect() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
    }

    private static void trainEvalAfterGc(Module m) throws InterruptedException {
        collect();
        assertDoesNotThrow(() -> m.eval());
        assertFalse(m.is_training());
        collect();
        assertDoesNotThrow(() -> m.train(true));
        assertTrue(m.is_training());
    }

    @Test
    void unetSurvivesGarbageCollection() throws InterruptedException {
        UNetModel m = new UNetModel(UNetModel.demoConfig());
        trainEvalAfterGc(m);
    }

    @Test
    void secondarySurvivesGarbageCollection() throws InterruptedException {
        trainEvalAfterGc(new SecondaryModel(4, 16));
    }
}
