package disco.reference;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** cutouts/* and aug/* on dd-reference-A: the native cutout kernels against DD's MakeCutoutsDango and torchvision. */
class CutoutsReferenceCheckTest {
    @Test
    void referenceChecksPassOnTheFixtures() {
        assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path dir = Fixtures.referenceA().get();
        List<CheckResult> results = new CutoutsReferenceCheck().run(new ReferenceContext(dir, null));
        assertFalse(results.isEmpty());
        List<String> failed = new ArrayList<>();
        for (CheckResult c : results) if (!c.pass()) failed.add(c.line());
        assertTrue(failed.isEmpty(), String.join("\n", failed));
        assertTrue(results.stream().anyMatch(c -> c.name().endsWith("/inner")));
        assertTrue(results.stream().anyMatch(c -> c.name().startsWith("aug/")));
    }
}
