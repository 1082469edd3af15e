package disco.reference;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The loss/* reference checks pass on dd-reference-A. */
class LossReferenceCheckTest {
    @Test
    void lossChecksPassOnReferenceA() {
        Assumptions.assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Path dir = Fixtures.referenceA().get();
        List<CheckResult> rs = new LossReferenceCheck().run(new ReferenceContext(dir, null));
        assertEquals(List.of("loss/spherical", "loss/tv", "loss/range"), rs.stream().map(CheckResult::name).toList());
        for (CheckResult r : rs) assertTrue(r.pass(), r.line());
    }
}
