package disco.reference;

import disco.torch.Torch;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** tokens and text_embeds/<name> on dd-reference-A, one thread as in ClipModelTest. */
class ClipReferenceChecksTest {
    static int threads;

    @BeforeAll
    static void oneThread() {
        Torch.init();
        threads = torch.get_num_threads();
        torch.set_num_threads(1);
    }

    @AfterAll
    static void restoreThreads() {
        torch.set_num_threads(threads);
    }

    @Test
    void textEmbeddingsMatchTheReferenceForEveryClipInTheDirectory() {
        Path dir = Fixtures.referenceA().orElse(null);
        assumeTrue(dir != null, Fixtures.missingMessage());
        ReferenceContext ctx = new ReferenceContext(dir, null);
        List<String> names = ClipReferenceChecks.clipNames(dir);
        assertFalse(names.isEmpty());
        List<CheckResult> results = new ClipReferenceChecks().run(ctx);
        assertEquals(1 + names.size(), results.size());
        for (CheckResult r : results) {
            System.out.println(r.line());
            assertTrue(r.pass(), r.line());
        }
    }
}
