package disco.reference;

import com.fasterxml.jackson.databind.JsonNode;
import disco.models.clip.ClipConfig;
import disco.models.clip.ClipModel;
import disco.models.clip.OpenClipConfig;
import disco.torch.OneThread;
import disco.torch.Tensors;
import disco.util.Compare;
import disco.util.DiscoException;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** openclip/text_embeds/<name> and openclip/image_embeds/<name> on dd-reference-A, and what they depend on. */
@ExtendWith(OneThread.class)
class OpenClipReferenceChecksTest {
    static Path dir() {
        Path dir = Fixtures.referenceA().orElse(null);
        assumeTrue(dir != null, Fixtures.missingMessage());
        return dir;
    }

    @Test
    void embeddingsMatchForEveryOpenClipModelOfTheDirectory() {
        ReferenceContext ctx = new ReferenceContext(dir(), null);
        List<String> names = OpenClipReferenceChecks.modelNames(ctx.dir());
        assertFalse(names.isEmpty());
        List<CheckResult> results = new OpenClipReferenceChecks().run(ctx);
        assertEquals(2 * names.size() + 1, results.size());
        for (CheckResult r : results) {
            System.out.println(r.line());
            assertTrue(r.pass(), r.line());
        }
        assertEquals("openclip/grad", results.get(results.size() - 1).name());
    }

    @Test
    void theFormIsDetectedFromTheContentAndTheQuickGeluFlagMatters() {
        Path dir = dir();
        ReferenceContext ctx = new ReferenceContext(dir, null);
        JsonNode meta = ctx.json("openclip.json");
        for (String name : OpenClipReferenceChecks.modelNames(dir)) {
            try (PointerScope scope = new PointerScope()) {
                ClipConfig cfg = OpenClipConfig.read(dir.resolve("openclip-" + name + ".json"));
                assertEquals(meta.path("models").path(name).path("quick_gelu").asBoolean(), cfg.quickGelu(), name);
                assertEquals(224, cfg.imageResolution(), name);
                // the same weights in the other activation: the text embeddings move far beyond the tolerance
                ClipConfig flipped = new ClipConfig(cfg.embedDim(), cfg.imageResolution(), cfg.resnetLayers(),
                        cfg.vitLayers(), cfg.visionWidth(), cfg.visionPatchSize(), cfg.visionHeads(), cfg.contextLength(),
                        cfg.vocabSize(), cfg.transformerWidth(), cfg.transformerHeads(), cfg.transformerLayers(),
                        !cfg.quickGelu(), cfg.visionMlpWidth());
                ClipModel m = ClipModel.loadOpenClip(cfg, dir.resolve("openclip-" + name + ".pt"));
                ClipModel f = ClipModel.loadOpenClip(flipped, dir.resolve("openclip-" + name + ".pt"));
                assertEquals(meta.path("models").path(name).path("format").asText(), m.openClipForm().word(), name);
                assertEquals(m.openClipForm().wrapped(), m.openClipForm().modulePrefix(), name);
                long[] ids = new long[77];
                ids[0] = 49406;
                ids[1] = 320;
                ids[2] = 49407;
                float[] a = Tensors.toFloats(m.encodeText(Tensors.fromLongs(ids, 1, 77)));
                float[] b = Tensors.toFloats(f.encodeText(Tensors.fromLongs(ids, 1, 77)));
                assertTrue(Compare.maxRelErr(b, a) > 10 * OpenClipReferenceChecks.EMBEDS_TOL, name);
                m.close();
                f.close();
            }
        }
    }

    @Test
    void aCheckpointOfAnotherArchitectureIsOneLineNamingTheFileAndKey() {
        Path dir = dir();
        List<String> names = OpenClipReferenceChecks.modelNames(dir);
        assumeTrue(names.size() >= 2);
        ClipConfig other = OpenClipConfig.read(dir.resolve("openclip-" + names.get(0) + ".json"));
        Path pt = dir.resolve("openclip-" + names.get(1) + ".pt");
        DiscoException e = assertThrows(DiscoException.class, () -> ClipModel.loadOpenClip(other, pt));
        assertTrue(e.getMessage().startsWith(pt + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void badConfigsAreNamedByField() {
        String[][] cases = {
                {"{\"embed_dim\": 8, \"vision_cfg\": {\"layers\": [1, 1, 1], \"width\": 8}, \"text_cfg\": {\"context_length\": 77, \"vocab_size\": 10, \"width\": 8, \"heads\": 1, \"layers\": 1}}", "vision_cfg.layers"},
                {"{\"embed_dim\": 8, \"vision_cfg\": {\"layers\": 1, \"width\": 8, \"patch_size\": 32}, \"text_cfg\": {\"context_length\": 64, \"vocab_size\": 10, \"width\": 8, \"heads\": 1, \"layers\": 1}}", "text_cfg.context_length"},
                {"{\"embed_dim\": 8, \"vision_cfg\": {\"timm_model_name\": \"resnet50d\"}, \"text_cfg\": {}}", "timm"},
                {"{\"embed_dim\": 8, \"quick_gelu\": 1, \"vision_cfg\": {\"layers\": 1, \"width\": 64, \"patch_size\": 32}, \"text_cfg\": {\"context_length\": 77, \"vocab_size\": 10, \"width\": 8, \"heads\": 1, \"layers\": 1}}", "quick_gelu"},
                {"{\"vision_cfg\": {}}", "expected an open_clip model config"},
        };
        for (String[] c : cases) {
            DiscoException e = assertThrows(DiscoException.class, () -> OpenClipConfig.parse(
                    new com.fasterxml.jackson.databind.ObjectMapper().readTree(c[0]), "cfg.json"));
            assertTrue(e.getMessage().startsWith("cfg.json: ") && e.getMessage().contains(c[1]), e.getMessage());
        }
    }

    @Test
    void openClipsTokenizerCutsAnOverLongTextWithoutTheEndToken() throws Exception {
        Path vocab = new ReferenceContext(dir(), null).vocab().orElse(null);
        assumeTrue(vocab != null);
        disco.models.tokenizer.SimpleTokenizer tok = disco.models.tokenizer.SimpleTokenizer.load(vocab);
        String longText = "word ".repeat(100);
        int[] oc = tok.tokenizeOpenClip(longText), clip = tok.tokenize(longText);
        assertEquals(clip[75], oc[75]);
        assertEquals(tok.eotToken(), clip[76]);
        assertNotEquals(tok.eotToken(), oc[76]);
        assertArrayEquals(tok.tokenize("a lighthouse"), tok.tokenizeOpenClip("a lighthouse"));
    }
}
