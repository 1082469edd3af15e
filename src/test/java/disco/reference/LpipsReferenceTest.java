package disco.reference;

import disco.torch.Torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DD's init_scale term on fixture directory A (skipped when absent): {@code loss/lpips}, {@code lpipsrun/grad} and
 * the first step of {@code lpipsrun/samples} (the whole run is verify-reference's).
 */
class LpipsReferenceTest {
    static ReferenceContext ctx;

    @BeforeAll
    static void load() {
        Assumptions.assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Torch.init();
        ctx = new ReferenceContext(Fixtures.referenceA().get(), null);
    }

    static void pass(CheckResult r) {
        System.err.println(r.line());
        assertTrue(r.pass(), r.line());
    }

    @Test
    void lossLpips() {
        pass(LpipsReferenceCheck.check(ctx));
    }

    @Test
    void lpipsrunGradAndFirstStep() {
        SamplerReferenceChecks.Engine e = SamplerReferenceChecks.Engine.load(ctx);
        SamplerReferenceChecks.Variant v = SamplerReferenceTest.variant("lpipsrun");
        pass(SamplerReferenceChecks.grad(e, v));
        pass(SamplerReferenceChecks.samples(e, v, 1));
    }
}
