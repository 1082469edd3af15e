package disco.settings;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipModelNameTest {
    @ParameterizedTest
    @CsvSource({
            "ViT-L/14, ViT-L/14",
            "ViT-L-14::openai, ViT-L/14",
            "ViTL14, ViT-L/14",
            "vit-l/14, ViT-L/14",
            "ViT-L/14@336px, ViT-L/14@336px",
            "ViT-L-14-336::openai, ViT-L/14@336px",
            "ViTL14_336px, ViT-L/14@336px",
            "ViT-B/32, ViT-B/32",
            "ViT-B-32::openai, ViT-B/32",
            "ViTB32, ViT-B/32",
            "ViTB16, ViT-B/16",
            "RN50x4, RN50x4",
            "RN50x4::openai, RN50x4",
            "RN50, RN50",
            "RN101::openai, RN101",
            "RN50x64, RN50x64",
            "RN-tiny, RN-tiny",
            "ViT-tiny, ViT-tiny",
    })
    void spellingsResolveToOneName(String written, String canonical) {
        ClipModelName n = ClipModelName.resolve(written);
        assertEquals(canonical, n.canonical());
        assertEquals(written, n.written());
        assertFalse(n.isPath());
    }

    @Test
    void checkpointPathsAreValid() {
        ClipModelName n = ClipModelName.resolve("models/clip/my-finetune.pt");
        assertTrue(n.isPath());
        assertEquals("models/clip/my-finetune.pt", n.canonical());
        // an existing file is a checkpoint whatever its name
        assertTrue(ClipModelName.resolve("pom.xml").isPath());
        assertThrows(IllegalArgumentException.class, () -> ClipModelName.resolve("no-such-model.bin"));
    }

    @Test
    void unknownNamesListTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ClipModelName.resolve("ViT-H/14"));
        assertTrue(e.getMessage().contains("ViT-H/14"), e.getMessage());
        assertTrue(e.getMessage().contains("ViT-L/14@336px"), e.getMessage());
        assertTrue(e.getMessage().contains("RN-tiny"), e.getMessage());
        assertTrue(e.getMessage().contains("ViT-B-32::laion2b_e16"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ClipModelName.resolve("ViT-B-32::laion5b"));
        assertThrows(IllegalArgumentException.class, () -> ClipModelName.resolve("ViT-B-32, laion2b_e16, x"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "ViT-B-32::laion2b_e16|ViT-B-32::laion2b_e16",
            "ViT-B/32::laion2b_e16|ViT-B-32::laion2b_e16",
            "ViTB32_laion2b_e16|ViT-B-32::laion2b_e16",
            "('ViT-B-32', 'laion2b_e16')|ViT-B-32::laion2b_e16",
            "ViT-B-32:laion2b_e16|ViT-B-32::laion2b_e16",
            "ViTB32_laion400m_32|ViT-B-32::laion400m_e32",
            "ViTB32quickgelu_laion400m_e31|ViT-B-32-quickgelu::laion400m_e31",
            "ViTB16_laion400m_e32|ViT-B-16::laion400m_e32",
            "RN50_yffcc15m|RN50::yfcc15m",
            "('RN50', 'yfcc15m')|RN50::yfcc15m",
            "RN50_quickgelu_cc12m|RN50-quickgelu::cc12m",
            "RN101_quickgelu_yfcc15m|RN101-quickgelu::yfcc15m",
            "ViT-B-16-plus-240::laion400m_e31|ViT-B-16-plus-240::laion400m_e31",
            "RN50-quickgelu::openai|RN50",
            "ViT-B-32-quickgelu::openai|ViT-B/32",
            "RN101-quickgelu::openai|RN101",
    })
    void openClipNamesResolve(String written, String canonical) {
        ClipModelName n = ClipModelName.resolve(written);
        assertEquals(canonical, n.canonical());
        assertEquals(canonical.contains("::"), n.isOpenClip());
        assertFalse(n.isPath());
    }

    @Test
    void everyDdOpenClipFlagResolvesToItsModel() {
        int dd = 0;
        for (var e : ClipModelName.OPEN_CLIP.entrySet()) {
            if (e.getValue().isEmpty()) continue;
            dd++;
            assertEquals(e.getKey(), ClipModelName.resolve(e.getValue()).canonical());
        }
        assertEquals(13, dd, "DD v5.5+ offers 13 OpenCLIP models");
    }
}
