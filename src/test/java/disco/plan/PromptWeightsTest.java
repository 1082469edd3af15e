package disco.plan;

import disco.settings.PromptsV1;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PromptWeightsTest {
    @Test
    void halfRoundsToNearestEven() {
        assertEquals(1.0f, PromptWeights.Half.round(1.0f));
        assertEquals(0.333251953125f, PromptWeights.Half.round(1f / 3));
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1)
        assertEquals(1.0f, PromptWeights.Half.round(1f + 0x1p-11f));
        assertEquals(1f + 0x1p-9f, PromptWeights.Half.round(1f + 0x1p-10f + 0x1p-11f));
        assertEquals(65504f, PromptWeights.Half.round(65519f));
        assertEquals(Float.POSITIVE_INFINITY, PromptWeights.Half.round(65520f));
        assertEquals(0x1p-24f, PromptWeights.Half.round(0x1p-24f)); // smallest subnormal
        assertEquals(0f, PromptWeights.Half.round(0x1p-26f));
        assertEquals(-2.5f, PromptWeights.Half.round(-2.5f));
        for (int h = 0; h < 0x7c00; h += 7) {
            float f = PromptWeights.Half.toFloat((short) h);
            assertEquals((short) h, PromptWeights.Half.fromFloat(f), "half bits " + h);
        }
    }

    @Test
    void normalisesAsDiscoArtsRunner() {
        // fixture values (DiscoArt on a GPU): [10, -4, -1.5] → float16 L2-normalised
        assertArrayEquals(new float[] {0.91943359375f, -0.367919921875f, -0.137939453125f},
                PromptWeights.normalizeFp16(new double[] {10, -4, -1.5}));
        float[] f32 = PromptWeights.normalizeF32(new double[] {10, -4, -1.5});
        assertEquals(0.9196009635925293, f32[0], 1e-7);
        assertEquals(-0.36784037947654724, f32[1], 1e-7);
    }

    @Test
    void selectsPromptsByWeightScheduleAndModel() {
        PromptsV1 p = PromptsV1.fromValue(Map.of("version", "1", "prompts", List.of(
                Map.of("text", "a", "weight", "[0]*100+[2]*900"),
                Map.of("text", "b:-1", "schedule", "[True]*500+[False]*500", "clip_guidance", List.of("M2")))), null);
        PromptWeights at0 = PromptWeights.at(p, "M1", 0);
        assertTrue(at0.isEmpty()); // a has weight 0 there, b does not guide M1
        PromptWeights m2 = PromptWeights.at(p, "M2", 50);
        assertEquals(List.of(1), m2.ids());
        assertEquals(List.of(-1.0), m2.raw());
        assertEquals(List.of(-1.0f), m2.weights());
        assertEquals(List.of(0, 1), PromptWeights.at(p, "M2", 499).ids());
        assertEquals(List.of(0), PromptWeights.at(p, "M2", 500).ids());
    }
}
