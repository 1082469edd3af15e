package disco.reference;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** image_prompts/* on dd-reference-A: Pillow's LANCZOS resize, DD's MakeCutouts + resample, embeddings, weights. */
class ImagePromptChecksTest {
    @Test
    void referenceChecksPassOnTheFixtures() {
        assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path dir = Fixtures.referenceA().get();
        List<CheckResult> results = new ImagePromptChecks().run(new ReferenceContext(dir, null));
        List<String> failed = new ArrayList<>();
        for (CheckResult c : results) {
            System.out.println(c.line());
            if (!c.pass()) failed.add(c.line());
        }
        assertTrue(failed.isEmpty(), String.join("\n", failed));
        assertEquals("image_prompts/resize", results.get(0).name());
        // one line per CLIP model of the draws file, besides the resize
        assertTrue(results.size() >= 2);
        assertFalse(results.stream().anyMatch(c -> Double.isNaN(c.maxRelErr())));
    }
}
