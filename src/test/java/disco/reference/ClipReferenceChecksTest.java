package disco.reference;

import org.junit.jupiter.api.extension.ExtendWith;
import disco.torch.OneThread;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** tokens and text_embeds/<name> on dd-reference-A. */
@ExtendWith(OneThread.class)
class ClipReferenceChecksTest {
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
