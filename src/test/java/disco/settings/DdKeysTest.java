package disco.settings;

import disco.util.DiscoException;
import disco.util.ExitCodes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** DD's own keys: honoured where they mean something here, otherwise a "not used by this engine" warning. */
class DdKeysTest {
    @TempDir
    Path tmp;

    private Path write(String name, String text) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    private static SettingsOverrides set(String... kv) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (String s : kv) {
            Map.Entry<String, String> e = SettingsOverrides.splitAssignment("--set", s);
            m.put(e.getKey(), e.getValue());
        }
        return new SettingsOverrides(null, null, null, null, null, null, null, m);
    }

    @Test
    void modelFlagsWorkOnTheCommandLineAsInAFile() throws IOException {
        Path f = write("dd.json", "{\"ViTB32\": true, \"ViTB16\": false, \"RN50\": true}");
        assertEquals(List.of("ViT-B/32", "RN50"), SettingsIO.load(f, null).settings().clipModels());
        // --set ViTL14=true adds ViT-L/14 to the file's models; RN50=false removes RN50
        Settings s = SettingsIO.load(f, set("ViTL14=true", "RN50=false")).settings();
        assertEquals(List.of("ViT-B/32", "ViT-L/14"), s.clipModels());
        // over the defaults (no file), whatever spelling the list uses
        Settings d = SettingsIO.load(null, set("RN50x4=true", "ViTB16=false")).settings();
        assertEquals(List.of("ViT-B/32", "RN50", "RN50x4"), d.clipModels());
        // together with --clip-model: the flags toggle the list the flag gives
        SettingsOverrides both = new SettingsOverrides(null, List.of("ViT-B-32::openai"), null, null, null, null, null,
                Map.of("ViTB32", "false", "RN101", "true"));
        assertEquals(List.of("RN101"), SettingsIO.load(null, both).settings().clipModels());
        DiscoException e = assertThrows(DiscoException.class, () -> SettingsIO.load(null, set("ViTL14=maybe")));
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("ViTL14: expected true or false"), e.getMessage());
    }

    @Test
    void setSeedIsTheSeedUnlessTheSavedSeedIsThere() throws IOException {
        assertEquals(123L, SettingsIO.load(write("a.json", "{\"set_seed\": \"123\"}"), null).settings().seed());
        assertNull(SettingsIO.load(write("b.json", "{\"set_seed\": \"random_seed\"}"), null).settings().seed());
        SettingsIO.Loaded l = SettingsIO.load(write("c.json", "{\"set_seed\": \"5\", \"seed\": 7}"), null);
        assertEquals(7L, l.settings().seed());
        assertTrue(l.warnings().stream().anyMatch(w -> w.contains("set_seed 5 ignored")), l.warnings().toString());
        DiscoException e = assertThrows(DiscoException.class,
                () -> SettingsIO.load(write("d.json", "{\"set_seed\": \"abc\"}"), null));
        assertTrue(e.getMessage().contains("set_seed: expected 'random_seed' or an integer"), e.getMessage());
    }

    @Test
    void ddRunKeysAreRead() throws IOException {
        Settings s = SettingsIO.load(write("r.json", "{\"useCPU\": true, \"check_model_SHA\": true,"
                + " \"intermediates_in_subfolder\": false, \"display_rate\": 5, \"use_checkpoint\": true}"), null).settings();
        assertEquals(Boolean.TRUE, s.useCpu());
        assertTrue(s.checkModelSha());
        assertFalse(s.intermediatesInSubfolder());
        assertEquals(5, s.displayRate());
        assertEquals(Boolean.TRUE, s.useCheckpoint());
        Settings d = Settings.defaults();
        assertNull(d.useCpu());
        assertFalse(d.checkModelSha());
        assertTrue(d.intermediatesInSubfolder());
        assertNull(d.displayRate());
        assertNull(d.useCheckpoint());
        DiscoException e = assertThrows(DiscoException.class, () -> SettingsIO.load(null, set("display_rate=0")));
        assertTrue(e.getMessage().contains("display_rate: expected at least 1"), e.getMessage());
        // they round-trip through the resolved JSON
        List<String> w = new ArrayList<>();
        Settings back = SettingsIO.build(SettingsIO.normalize(SettingsIO.parse(SettingsIO.toJson(s), "x", false), "x", w),
                "x", java.util.Set.of(), w);
        assertEquals(s, back);
    }

    @Test
    void notUsedKeysWarnInAFileAndAreRefusedOnTheCommandLine() throws IOException {
        SettingsIO.Loaded l = SettingsIO.load(write("n.json", "{\"zoom\": \"0: (1)\", \"randomize_class\": true}"), null);
        String w = String.join("\n", l.warnings());
        assertTrue(w.contains("not used by this engine") && w.contains("zoom") && w.contains("randomize_class"), w);
        assertFalse(w.contains("misspelled"), w);
        DiscoException e = assertThrows(DiscoException.class, () -> SettingsIO.load(null, set("zoom=1")));
        assertTrue(e.getMessage().contains("'zoom': not used by this engine"), e.getMessage());
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
    }

    @Test
    void derivedKeysAreCheckedAgainstSteps() throws IOException {
        SettingsIO.Loaded ok = SettingsIO.load(write("ok.json", "{\"steps\": 250, \"diffusion_steps\": 1000,"
                + " \"timestep_respacing\": \"ddim250\"}"), null);
        assertFalse(String.join("\n", ok.warnings()).contains("diffusion_steps"), ok.warnings().toString());
        SettingsIO.Loaded bad = SettingsIO.load(write("bad.json", "{\"steps\": 300, \"diffusion_steps\": 1000,"
                + " \"timestep_respacing\": \"ddim250\"}"), null);
        String w = String.join("\n", bad.warnings());
        assertTrue(w.contains("diffusion_steps: 1000 is not what DD derives from steps 300; using 900"), w);
        assertTrue(w.contains("timestep_respacing: 'ddim250' ignored"), w);
    }

    @Test
    void imagePromptsReadAsDdWritesThem() throws IOException {
        Path f = write("ip.json", "{\"skip_augs\": true, \"image_prompts\": {\"0\": [\"a.png:2\"], \"50\": [\"b.png\"]}}");
        SettingsIO.Loaded l = SettingsIO.load(f, null);
        assertEquals(List.of("a.png:2"), l.settings().imagePrompts());
        assertTrue(l.warnings().stream().anyMatch(w -> w.contains("image_prompts") && w.contains("[50]")));
        // DD's unused default {} is no prompt; the weights with the text prompts must not sum to 0
        assertEquals(List.of(), SettingsIO.load(write("e.json", "{\"image_prompts\": {}}"), null).settings().imagePrompts());
        DiscoException e = assertThrows(DiscoException.class, () -> SettingsIO.load(write("z.json",
                "{\"skip_augs\": true, \"text_prompts\": [\"x:1\"], \"image_prompts\": [\"a.png:-1\"]}"), null));
        assertTrue(e.getMessage().contains("image_prompts: the weights of the text and image prompts must not sum to 0"),
                e.getMessage());
        // text weights alone may sum to 0 when an image prompt carries weight (DD sums them all)
        assertEquals(1, SettingsIO.load(write("t.json", "{\"skip_augs\": true, \"text_prompts\": [\"x:1\", \"y:-1\"],"
                + " \"image_prompts\": [\"a.png\"]}"), null).settings().imagePrompts().size());
    }
}
