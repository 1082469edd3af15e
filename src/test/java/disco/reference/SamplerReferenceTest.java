package disco.reference;

import disco.torch.Torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's acceptance checks on fixture directory A (skipped when the fixtures are absent): both cond_fn checks
 * and the first step of the DDIM, PLMS and init-image runs. The whole runs (every step, symmetry included) are
 * {@code disco verify-reference}; they take minutes on two cores, too long for the unit-test suite.
 */
class SamplerReferenceTest {
    static SamplerReferenceChecks.Engine engine;

    @BeforeAll
    static void load() {
        Assumptions.assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Torch.init();
        engine = SamplerReferenceChecks.Engine.load(new ReferenceContext(Fixtures.referenceA().get(), null));
    }

    static void pass(CheckResult r) {
        System.err.println(r.line());
        assertTrue(r.pass(), r.line());
    }

    static SamplerReferenceChecks.Variant variant(String name) {
        return SamplerReferenceChecks.VARIANTS.stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void runGrad() {
        pass(SamplerReferenceChecks.grad(engine, variant("run")));
    }

    @Test
    void secrunGrad() {
        pass(SamplerReferenceChecks.grad(engine, variant("secrun")));
    }

    /** The first DDIM step of run/samples (the whole runs are verify-reference's acceptance checks). */
    @Test
    void runSamplesFirstStep() {
        pass(SamplerReferenceChecks.samples(engine, variant("run"), 1));
    }

    /** PLMS's pseudo improved-Euler first step (cond_fn at t - 1 denoising at cur_t). */
    @Test
    void plmsrunSamplesFirstStep() {
        pass(SamplerReferenceChecks.samples(engine, variant("plmsrun"), 1));
    }

    /** Init image + secondary model: the first step. */
    @Test
    void initrunSamplesFirstStep() {
        pass(SamplerReferenceChecks.samples(engine, variant("initrun"), 1));
    }
}
