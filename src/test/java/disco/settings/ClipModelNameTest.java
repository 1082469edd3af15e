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
        // open_clip's LAION weights are not OpenAI's
        assertThrows(IllegalArgumentException.class, () -> ClipModelName.resolve("ViT-B-32::laion2b_e16"));
    }
}
