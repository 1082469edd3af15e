package disco.plan;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DiffusionScheduleTest {
    /**
     * Expected values reasoned from DD and guided-diffusion: diffusion_steps = (1000 // steps) * steps below 1000;
     * ddimN takes the smallest stride s with len(range(0, D, s)) == N, so the map is 0, s, 2s, ...
     */
    @ParameterizedTest
    @CsvSource({
            "25, 1000, 40",
            "50, 1000, 20",
            "100, 1000, 10",
            "150, 900, 6",
            "250, 1000, 4",
            "300, 900, 3",
            "500, 1000, 2",
            "1000, 1000, 1",
            "2000, 2000, 1",
    })
    void ddimRespacing(int steps, int diffusionSteps, int stride) {
        assertEquals(diffusionSteps, DiffusionSchedule.diffusionSteps(steps));
        DiffusionSchedule ds = DiffusionSchedule.create(steps, null);
        assertEquals(steps, ds.numSteps());
        assertEquals(diffusionSteps, ds.originalNumSteps());
        assertEquals("ddim" + steps, ds.respacing());
        for (int i = 0; i < steps; i++) assertEquals(i * stride, ds.timestep(i));
        // the respaced alphas_cumprod equal the original ones at the kept timesteps (SpacedDiffusion's identity)
        double[] base = DiffusionSchedule.linearBetas(diffusionSteps);
        double acc = 1;
        int k = 0;
        for (int t = 0; t < diffusionSteps && k < steps; t++) {
            acc *= 1 - base[t];
            if (t == ds.timestep(k)) {
                assertEquals(acc, ds.alphaCumprod(k), acc * 1e-12, "alphas_cumprod at t=" + t);
                k++;
            }
        }
        assertEquals(1.0, ds.alphaCumprodPrev(0));
        assertEquals(ds.alphaCumprod(0), ds.alphaCumprodPrev(1));
        // the model is fed t on the 1000-step scale
        assertEquals((float) (ds.timestep(steps - 1) * (1000.0 / diffusionSteps)), ds.scaledTimestep(steps - 1), 1e-3);
    }

    @Test
    void linearBetasFollowTheScale() {
        double[] b = DiffusionSchedule.linearBetas(1000);
        assertEquals(1e-4, b[0], 1e-18);
        assertEquals(0.02, b[999], 0);
        double[] half = DiffusionSchedule.linearBetas(500);
        assertEquals(2e-4, half[0], 1e-18);
        assertEquals(0.04, half[499], 0);
        // first respaced beta of ddim10 over 1000 is the original beta_0
        DiffusionSchedule ds = DiffusionSchedule.create(10, null);
        assertEquals(1e-4, ds.beta(0), 1e-16); // 1 - (1 - 1e-4): not exactly 1e-4, as in numpy
        assertEquals(0.9999, ds.alphaCumprod(0), 1e-15);
    }

    @Test
    void sectionCountsFollowSpaceTimesteps() {
        // guided-diffusion's docstring example: 300 steps, sections of 100 strided to 10, 15 and 20
        int[] t = DiffusionSchedule.spaceTimesteps(300, "10,15,20");
        assertEquals(45, t.length);
        assertArrayEquals(new int[] {0, 11, 22, 33, 44, 55, 66, 77, 88, 99}, java.util.Arrays.copyOf(t, 10));
        assertEquals(100, t[10]);
        assertEquals(199, t[24]);
        assertEquals(200, t[25]);
        assertEquals(299, t[44]);
        // "250" over 1000: stride (999 / 249), rounded half to even
        int[] u = DiffusionSchedule.spaceTimesteps(1000, "250");
        assertEquals(250, u.length);
        assertEquals(0, u[0]);
        assertEquals(4, u[1]);
        assertEquals(999, u[249]);
        DiffusionSchedule ds = DiffusionSchedule.create(1000, 250, "250");
        assertEquals(250, ds.numSteps());
        assertEquals(999, ds.timestep(249));
        // Python's round() is half-to-even: 5 steps of a 10-step section stride by 2.25 -> 0, 2, 4 (4.5), 7, 9
        assertArrayEquals(new int[] {0, 2, 4, 7, 9}, DiffusionSchedule.spaceTimesteps(10, "5"));
    }

    @Test
    void impossibleRespacingsAreErrors() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DiffusionSchedule.spaceTimesteps(100, "ddim30"));
        assertTrue(e.getMessage().contains("exactly 30"), e.getMessage());
        // DD's steps = 1 asks for ddim1 over 1000 steps, which no stride in range(1, 1000) gives
        assertThrows(IllegalArgumentException.class, () -> DiffusionSchedule.create(1, null));
        assertThrows(IllegalArgumentException.class, () -> DiffusionSchedule.spaceTimesteps(100, "10,200"));
        assertThrows(IllegalArgumentException.class, () -> DiffusionSchedule.spaceTimesteps(100, "ddimX"));
        assertThrows(IllegalArgumentException.class, () -> DiffusionSchedule.diffusionSteps(0));
    }

    @Test
    void scheduleIndexUsesDdsFloat32Timestep() {
        // DD's cond_fn reads schedules at 1000 - (int(t) + 1) where t = timestep_map[i].float() * (1000 / 990) in
        // float32: t = 99 gives 99.99999, so t_int is 100 (not 101) and the schedule index is 900.
        DiffusionSchedule ds = DiffusionSchedule.create(30, null);
        assertEquals(990, ds.originalNumSteps());
        assertEquals(99, ds.timestep(3));
        assertEquals(100, ds.tInt(3));
        assertEquals(900, ds.scheduleIndex(3));
        // with 1000 diffusion steps the scaled t is exact
        DiffusionSchedule d10 = DiffusionSchedule.create(10, null);
        assertEquals(700, d10.timestep(7));
        assertEquals(299, d10.scheduleIndex(7));
        assertEquals(999, d10.scheduleIndex(0));
    }
}
