package disco.reference;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** secondary/pred and unet/pred_xstart0 on dd-reference-A, within the fixtures' tolerance. */
class ModelReferenceChecksTest {
    @Test
    void networksMatchDiscoDiffusion() {
        assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path dir = Fixtures.referenceA().get();
        List<CheckResult> rs = new ModelReferenceChecks().run(new ReferenceContext(dir, null));
        assertEquals(List.of("secondary/pred", "unet/pred_xstart0"), rs.stream().map(CheckResult::name).toList());
        for (CheckResult r : rs) {
            assertTrue(r.pass(), r.line());
            assertEquals(1e-4, r.tol());
        }
    }
}
