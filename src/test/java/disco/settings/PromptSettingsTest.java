package disco.settings;

import disco.plan.PlanStep;
import disco.plan.StepPlan;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DiscoArt's v1 prompts, DD's fuzzy_prompt / rand_mag and the preset cut schedules as settings. */
class PromptSettingsTest {
    @TempDir
    Path tmp;

    private Path write(String name, String text) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    private static Settings roundTrip(Settings s) {
        List<String> warnings = new ArrayList<>();
        Settings back = SettingsIO.build(SettingsIO.normalize(SettingsIO.parse(SettingsIO.toJson(s), "out.json", false),
                "out.json", warnings), "out.json", java.util.Set.of(), warnings);
        assertEquals(List.of(), warnings);
        return back;
    }

    private static String bad(Path file, SettingsOverrides o) {
        DiscoException e = assertThrows(DiscoException.class, () -> SettingsIO.load(file, o));
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    private static SettingsOverrides set(String... kv) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (String a : kv) {
            Map.Entry<String, String> e = SettingsOverrides.splitAssignment("--set", a);
            m.put(e.getKey(), e.getValue());
        }
        return new SettingsOverrides(null, null, null, null, null, null, null, m);
    }

    static final String V1_YAML = """
            text_prompts:
              version: '1'
              prompts:
                - text: 'A lighthouse:2'
                  weight: '[10]*400+[6]*600'
                - text: Trending on artstation
                  schedule: '[False]*300+[True]*700'
                  clip_guidance: [ViT-B-32::openai]
                - text: 'blurry:-1.5'
            clip_models: [ViT-B/32, RN50]
            clip_models_schedules: {RN50: '[False]*200+[True]*800'}
            steps: 20
            """;

    @Test
    void readsV1PromptsAndPlansThem() throws IOException {
        SettingsIO.Loaded l = SettingsIO.load(write("v1.yml", V1_YAML), null);
        Settings s = l.settings();
        assertEquals(List.of(), l.warnings());
        assertEquals(List.of("A lighthouse:2", "Trending on artstation", "blurry:-1.5"), s.textPrompts());
        assertEquals(List.of("A lighthouse", "Trending on artstation", "blurry"), s.promptTexts());
        // clip_guidance in DiscoArt's spelling is the clip_models entry as written
        assertEquals(List.of("ViT-B/32"), s.promptPlan().prompts().get(1).clipGuidance());
        StepPlan plan = StepPlan.of(s);
        PlanStep first = plan.step(0); // schedule index 49: RN50 off, prompt 1 not yet on
        assertEquals(List.of("ViT-B/32"), first.active());
        assertEquals(List.of(0, 2), first.promptsOf("ViT-B/32").ids());
        assertEquals(List.of(10.0, -1.5), first.promptsOf("ViT-B/32").raw());
        PlanStep last = plan.step(plan.size() - 1); // index 999: both on; RN50 is not guided by prompt 1
        assertEquals(List.of("ViT-B/32", "RN50"), last.active());
        assertEquals(List.of(0, 1, 2), last.promptsOf("ViT-B/32").ids());
        assertEquals(List.of(0, 2), last.promptsOf("RN50").ids());
        assertEquals(s, roundTrip(s));
        // the JSON plan lists the prompts of every active model
        assertTrue(plan.toJsonList().get(0).containsKey("prompts"));
    }

    @Test
    void aModelWithoutPromptsIsOff() throws IOException {
        Settings s = SettingsIO.load(write("v1.yml", """
                text_prompts: {version: '1', prompts: [{text: a, clip_guidance: [RN50]}, {text: b, weight: '[0]*500+[1]*500'}]}
                clip_models: [ViT-B/32, RN50]
                steps: 10
                """), null).settings();
        StepPlan plan = StepPlan.of(s);
        for (PlanStep p : plan.steps()) {
            assertEquals(p.schedIndex() >= 500 ? List.of("ViT-B/32", "RN50") : List.of("RN50"), p.active(), "step " + p.step());
        }
    }

    @Test
    void refusesBadV1Prompts() throws IOException {
        String m = bad(write("a.yml", "text_prompts: {version: 1, prompts: [{text: a}]}\n"), null);
        assertTrue(m.contains("text_prompts: version: expected the string '1'"), m);
        m = bad(write("b.yml", "text_prompts: {version: '1', prompts: [{text: a, clip_guidance: [RN101]}]}\n"), null);
        assertTrue(m.contains("text_prompts: prompts[0]: clip_guidance: 'RN101' is not one of clip_models"), m);
        m = bad(write("c.yml", "text_prompts: {version: '1', prompts: [{text: a, weight: '[1]*10'}]}\n"), null);
        assertTrue(m.contains("text_prompts: prompts[0]: weight:") && m.contains("1000"), m);
        m = bad(write("d.yml", "text_prompts: {version: '1', prompts: [{text: 'a: b'}]}\n"), null);
        assertTrue(m.contains("prompts[0]: text:") && m.contains("weight"), m);
        m = bad(write("e.yml", "text_prompts: {version: '1', prompts: []}\n"), null);
        assertTrue(m.contains("text_prompts: prompts: expected a non-empty list"), m);
        m = bad(write("f.yml", "text_prompts: {version: '1', prompts: [{text: a}]}\nfuzzy_prompt: true\n"), null);
        assertTrue(m.contains("fuzzy_prompt:"), m);
        m = bad(write("h.yml", "text_prompts: [a]\nimage_prompts: ['x.png']\nskip_augs: true\nfuzzy_prompt: true\n"), null);
        assertTrue(m.contains("fuzzy_prompt:") && m.contains("image_prompts"), m);
        m = bad(write("i.yml", "text_prompts: {version: '1', prompts: [{text: a}]}\nimage_prompts: ['x.png']\nskip_augs: true\n"), null);
        assertTrue(m.contains("image_prompts:") && m.contains("version-1"), m);
        // weights that sum to 0 are fine here: DiscoArt normalises by the L2 norm
        SettingsIO.load(write("g.yml", "text_prompts: {version: '1', prompts: [{text: 'a:1'}, {text: 'b:-1'}]}\n"), null);
    }

    @Test
    void unusedPromptKeysAreAWarning() throws IOException {
        SettingsIO.Loaded l = SettingsIO.load(write("w.yml",
                "text_prompts: {version: '1', prompts: [{text: a, spellcheck: correct}]}\n"), null);
        assertEquals(1, l.warnings().size(), l.warnings().toString());
        assertTrue(l.warnings().get(0).contains("prompts[0]: keys this engine does not use, ignored: spellcheck"));
    }

    @Test
    void fuzzyPromptAndRandMagAreRead() throws IOException {
        Settings d = SettingsIO.load(null, null).settings();
        assertFalse(d.fuzzyPrompt());
        assertEquals(0.05, d.randMag());
        Settings s = SettingsIO.load(write("f.json", "{\"fuzzy_prompt\": true, \"rand_mag\": 0.2}"), null).settings();
        assertTrue(s.fuzzyPrompt());
        assertEquals(0.2, s.randMag());
        assertEquals(s, roundTrip(s));
        String m = bad(write("g.json", "{\"rand_mag\": -1}"), null);
        assertTrue(m.contains("rand_mag: expected a finite number >= 0"), m);
    }

    @Test
    void cutSchedulesGroupFillsTheCutKeys() throws IOException {
        Settings s = SettingsIO.load(write("g.yml", "cut_schedules_group: pad_or_pulp\ncut_innercut: '[3]*1000'\n"), null)
                .settings();
        assertEquals("[15]*100+[15]*100+[12]*100+[12]*100+[6]*100+[4]*100+[2]*200+[0]*200",
                s.scheduleSource(Scheduled.CUT_OVERVIEW));
        assertEquals("[3]*1000", s.scheduleSource(Scheduled.CUT_INNERCUT)); // the file's own value wins
        assertEquals("[12]*300+[12]*100+[12]*50+[12]*50+[10]*100+[10]*100+[10]*300", s.scheduleSource(Scheduled.CUT_IC_POW));
        assertEquals(s, roundTrip(s));
        // on the command line the group replaces the file's values, except keys also given there
        Settings c = SettingsIO.load(write("h.yml", "cut_overview: '[1]*1000'\ncut_innercut: '[3]*1000'\n"),
                set("cut_schedules_group=watercolor", "cut_innercut=[5]*1000")).settings();
        assertEquals("[14]*200+[12]*200+[4]*400+[0]*200", c.scheduleSource(Scheduled.CUT_OVERVIEW));
        assertEquals("[5]*1000", c.scheduleSource(Scheduled.CUT_INNERCUT));
        // han_fav sets scales and models too
        Settings h = SettingsIO.load(write("i.yml", "cut_schedules_group: han_fav\n"), null).settings();
        assertEquals("60000", h.scheduleSource(Scheduled.TV_SCALE));
        assertEquals("8", h.scheduleSource(Scheduled.CUTN_BATCHES));
        assertEquals(5, h.clipModels().size());
        String m = bad(write("j.yml", "cut_schedules_group: pixel\n"), null);
        assertTrue(m.contains("cut_schedules_group: expected one of [default, pad_or_pulp, watercolor, han_fav]"), m);
    }

    @Test
    void kaliYugaModelsGetDdsCutPresets() throws IOException {
        SettingsIO.Loaded l = SettingsIO.load(write("k.yml", "diffusion_model: watercolordiffusion_2\n"), null);
        assertEquals("[14]*200+[12]*200+[4]*400+[0]*200", l.settings().scheduleSource(Scheduled.CUT_OVERVIEW));
        assertEquals("[0.7]*100+[0.6]*100+[0.45]*100+[0.3]*100+[0]*600", l.settings().scheduleSource(Scheduled.CUT_ICGRAY_P));
        assertTrue(l.warnings().stream().anyMatch(w -> w.contains("from DD's watercolor preset")), l.warnings().toString());
        Settings p = SettingsIO.load(write("p.yml", "diffusion_model: PulpSciFiDiffusion\ncut_overview: 3\n"), null).settings();
        assertEquals("3", p.scheduleSource(Scheduled.CUT_OVERVIEW)); // set in the file: kept
        assertEquals("[1]*100+[1]*100+[4]*100+[4]*100+[8]*100+[8]*100+[10]*200+[10]*200",
                p.scheduleSource(Scheduled.CUT_INNERCUT));
        Settings d = SettingsIO.load(write("d.yml", "diffusion_model: 256x256_diffusion_uncond\n"), null).settings();
        assertEquals(Scheduled.CUT_OVERVIEW.defaultSource(), d.scheduleSource(Scheduled.CUT_OVERVIEW));
        assertNull(CutPresets.forDiffusionModel("512x512_diffusion_uncond_finetune_008100"));
    }
}
