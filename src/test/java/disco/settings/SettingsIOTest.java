package disco.settings;

import disco.util.ExitCodes;
import disco.plan.StepPlan;
import disco.util.DiscoException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SettingsIOTest {
    @TempDir
    Path tmp;

    static Path resource(String name) {
        try {
            return Paths.get(SettingsIOTest.class.getResource("/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private Path write(String name, String text) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    private static Settings roundTrip(Settings s) {
        String json = SettingsIO.toJson(s);
        List<String> warnings = new ArrayList<>();
        Settings back = SettingsIO.build(SettingsIO.normalize(SettingsIO.parse(json, "out.json", false), "out.json",
                warnings), "out.json", java.util.Set.of(), warnings);
        assertEquals(List.of(), warnings);
        return back;
    }

    private static DiscoException bad(Path file, SettingsOverrides o) {
        DiscoException e = assertThrows(DiscoException.class, () -> SettingsIO.load(file, o));
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e;
    }

    @Test
    void defaultsAreDiscoArts() {
        Settings d = SettingsIO.load(null, null).settings();
        assertEquals(Settings.defaults(), d);
        assertEquals(250, d.steps());
        assertEquals(0, d.skipSteps());
        assertEquals(1280, d.width());
        assertEquals(768, d.height());
        assertEquals("[12]*400+[4]*600", d.scheduleSource(Scheduled.CUT_OVERVIEW));
        assertEquals(0.05, d.schedule(Scheduled.CLAMP_MAX).number(0));
        assertTrue(d.schedule(Scheduled.USE_SECONDARY_MODEL).bool(0));
        assertNull(d.seed());
    }

    @Test
    void ddSettingsTxtLoads() {
        SettingsIO.Loaded l = SettingsIO.load(resource("dd_settings.txt"), null);
        Settings s = l.settings();
        assertEquals(List.of("ViT-B/32", "ViT-B/16", "RN50"), s.clipModels());
        assertEquals(2, s.textPrompts().size());
        assertTrue(s.textPrompts().get(0).startsWith("A beautiful painting of a singular lighthouse"));
        assertEquals(250, s.steps());
        assertEquals(10, s.skipSteps());
        assertEquals(1280, s.width());
        assertEquals(704, s.height()); // 760 rounded down to a multiple of 64, with a warning
        assertEquals(2768123557L, s.seed());
        assertEquals("[1]*1000", s.scheduleSource(Scheduled.CUT_IC_POW));
        assertTrue(l.warnings().stream().anyMatch(w -> w.contains("1280x760 to 1280x704")), l.warnings().toString());
        assertTrue(l.warnings().stream().anyMatch(w -> w.contains("frame 0") && w.contains("[100]")));
        assertTrue(l.warnings().stream().anyMatch(w -> w.contains("zoom")));
        assertFalse(l.warnings().stream().anyMatch(w -> w.contains("diffusion_steps")));
        assertEquals(240, StepPlan.of(s).size());
        assertEquals(s, roundTrip(s));
    }

    @Test
    void discoArtYamlLoads() {
        SettingsIO.Loaded l = SettingsIO.load(resource("discoart.yml"), null);
        Settings s = l.settings();
        assertEquals(List.of("ViT-B-32::openai", "ViT-B-16::openai", "RN50::openai"), s.clipModels());
        assertEquals(List.of("ViT-B/32", "ViT-B/16", "RN50"),
                s.clipModelNames().stream().map(ClipModelName::canonical).toList());
        assertEquals("1.0", s.scheduleSource(Scheduled.CUT_IC_POW));
        assertEquals("True", s.scheduleSource(Scheduled.USE_SECONDARY_MODEL));
        assertEquals("lighthouse", s.batchName());
        assertEquals(1234L, s.seed());
        assertTrue(l.warnings().stream().anyMatch(w -> w.contains("on_misspelled_token")), l.warnings().toString());
        // DiscoArt's progress GIF settings are honoured (progress.gif), not warned about
        assertFalse(l.warnings().stream().anyMatch(w -> w.contains("gif_")), l.warnings().toString());
        assertEquals(20, s.gifFps());
        assertEquals(0.5, s.gifSizeRatio());
        assertFalse(l.warnings().stream().anyMatch(w -> w.contains("skip_event")), "null-valued DiscoArt options");
        StepPlan p = StepPlan.of(s);
        assertEquals(250, p.size());
        assertEquals(List.of("ViT-B-32::openai", "ViT-B-16::openai"), p.step(0).active());
        assertEquals(List.of("ViT-B-16::openai", "RN50::openai"), p.step(249).active());
        assertEquals(s, roundTrip(s));
    }

    @Test
    void aliasSpellingsAndWindows() throws IOException {
        Path f = write("blog.yml", """
                text_prompts: ["a fox:2", "blurry:-1"]
                clip_models: [RN50, ViT-L/14]
                clip_modules_schedules:
                  RN50::openai: "0-40%"
                  ViTL14: "20%-100%"
                steps: 250
                skip_steps: 10
                """);
        Settings s = SettingsIO.load(f, null).settings();
        assertEquals(Map.of("RN50", "0-40%", "ViT-L/14", "20%-100%"), s.modelSchedulesByWrittenName());
        StepPlan p = StepPlan.of(s);
        assertEquals(90, p.steps().stream().filter(x -> x.active().contains("RN50")).count());
        assertEquals(s, roundTrip(s));
    }

    @Test
    void scheduleValuesMayBeNumbersBoolsOrLists() throws IOException {
        StringBuilder list = new StringBuilder("[");
        for (int i = 0; i < 1000; i++) list.append(i < 500 ? "4" : "2").append(i < 999 ? ", " : "]");
        Path f = write("s.json", "{\"cut_overview\": " + list + ", \"clamp_grad\": false, \"clamp_max\": 0.1,"
                + " \"tv_scale\": 100}");
        Settings s = SettingsIO.load(f, null).settings();
        assertEquals(4, s.schedule(Scheduled.CUT_OVERVIEW).integer(499));
        assertEquals(2, s.schedule(Scheduled.CUT_OVERVIEW).integer(500));
        assertEquals("False", s.scheduleSource(Scheduled.CLAMP_GRAD));
        assertEquals("0.1", s.scheduleSource(Scheduled.CLAMP_MAX));
        assertEquals("100", s.scheduleSource(Scheduled.TV_SCALE));
        assertEquals(s, roundTrip(s));
    }

    @Test
    void overridesReplaceFileValues() {
        SettingsOverrides o = new SettingsOverrides(List.of("a castle:1"), List.of("RN50", "ViT-L-14::openai"),
                Map.of("ViT-L/14", "[False]*200+[True]*800"), 100, 5, 7L, new int[] {700, 512},
                Map.of("tv_scale", "100", "cut_overview", "[8]*1000", "use_vertical_symmetry", "true",
                        "transformation_percent", "[0.2, 0.5]"));
        SettingsIO.Loaded l = SettingsIO.load(resource("discoart.yml"), o);
        Settings s = l.settings();
        assertEquals(List.of("a castle:1"), s.textPrompts());
        assertEquals(List.of("RN50", "ViT-L-14::openai"), s.clipModels());
        // the file's schedule for RN50::openai stays (RN50 is still listed); ViT-B-32's goes with a warning
        assertEquals(Map.of("RN50", "[False]*300+[True]*700", "ViT-L-14::openai", "[False]*200+[True]*800"),
                s.modelSchedulesByWrittenName());
        assertTrue(l.warnings().stream().anyMatch(w -> w.contains("ViT-B-32::openai") && w.contains("dropped")),
                l.warnings().toString());
        assertEquals(100, s.steps());
        assertEquals(5, s.skipSteps());
        assertEquals(7L, s.seed());
        assertEquals(640, s.width());
        assertEquals("100", s.scheduleSource(Scheduled.TV_SCALE));
        assertEquals("[8]*1000", s.scheduleSource(Scheduled.CUT_OVERVIEW));
        assertTrue(s.useVerticalSymmetry());
        assertEquals(List.of(0.2, 0.5), s.transformationPercent());
        assertTrue(l.warnings().stream().anyMatch(w -> w.startsWith("command line: width_height")));
    }

    @Test
    void flagErrorsNameTheCommandLine() {
        SettingsOverrides o = new SettingsOverrides(null, null, null, 0, null, null, null, null);
        DiscoException e = bad(resource("discoart.yml"), o);
        assertTrue(e.getMessage().startsWith("command line: steps:"), e.getMessage());
        o = new SettingsOverrides(null, null, null, null, null, null, null, Map.of("cut_innercut", "[4]*400+"));
        e = bad(resource("discoart.yml"), o);
        assertTrue(e.getMessage().startsWith("command line: cut_innercut: syntax error at column 9"), e.getMessage());
    }

    @Test
    void unknownKeysAreAWarningNamingThem() throws IOException {
        Path f = write("u.yml", "stepz: 100\ncut_overveiw: '[4]*1000'\n");
        SettingsIO.Loaded l = SettingsIO.load(f, null);
        assertEquals(1, l.warnings().size());
        assertTrue(l.warnings().get(0).contains("stepz, cut_overveiw"), l.warnings().get(0));
    }

    @Test
    void ddOpenClipFlagsAndNameTagPairsLoad() throws IOException {
        Path dd = write("oc_settings.txt", "{\"ViTB32\": true, \"RN50_yffcc15m\": true, \"ViTB32_laion400m_32\": true,"
                + " \"ViTB32_laion2b_e16\": false, \"RN50\": false}");
        assertEquals(List.of("ViT-B/32", "ViT-B-32::laion400m_e32", "RN50::yfcc15m"),
                SettingsIO.load(dd, null).settings().clipModels());
        Path yml = write("pairs.yml", "clip_models: [[ViT-B-32, laion2b_e16], ViT-L/14]\n"
                + "clip_models_schedules: {ViTB32_laion2b_e16: '0-40%'}\n");
        Settings s = SettingsIO.load(yml, null).settings();
        assertEquals(List.of("ViT-B-32::laion2b_e16", "ViT-L/14"), s.clipModels());
        assertEquals(List.of("ViT-B-32::laion2b_e16", "ViT-L/14"), s.clipModelNames().stream().map(ClipModelName::canonical).toList());
        Path bad = write("badpair.yml", "clip_models: [[ViT-B-32, laion2b_e16, x]]\n");
        assertTrue(bad(bad, null).getMessage().contains("clip_models: expected names or (name, tag) pairs"));
    }

    @Test
    void badInputIsOneLineNamingFileAndKey() throws IOException {
        Object[][] cases = {
                {"steps: abc\n", "steps: expected an integer, found the string \"abc\""},
                {"steps: 0\n", "steps: expected at least 1"},
                {"steps: 50\nskip_steps: 50\n", "skip_steps: expected 0 <= skip_steps < steps (50), found 50"},
                {"cut_overview: '[4]*400+[2'\n", "cut_overview: syntax error at column 11"},
                {"cut_overview: '[4]*400+[2]*599'\n", "cut_overview: the schedule has 999 entries"},
                {"cut_overview: '[4.5]*1000'\n", "cut_overview: expected whole numbers"},
                {"text_prompts: ['sun:1', 'rain:-1']\n", "text_prompts: the prompt weights must not sum to 0"},
                {"text_prompts: ['Style: cubism']\n", "text_prompts: prompt \"Style: cubism\""},
                {"clip_models: [ViT-H/14]\n", "clip_models: unknown CLIP model 'ViT-H/14'; known names: ViT-B/32"},
                {"clip_models: [RN50]\nclip_models_schedules: {ViT-B/32: 'True'}\n",
                        "clip_models_schedules: 'ViT-B/32' is not one of clip_models [RN50]"},
                {"clip_models: [RN50]\nclip_models_schedules: {RN50: '[True]*1000+'}\n",
                        "clip_models_schedules: RN50: syntax error at column 13"},
                {"clip_models: [RN50, RN50::openai]\n", "clip_models: 'RN50::openai' names RN50 twice"},
                {"width_height: [32, 768]\n", "width_height: expected at least 64x64"},
                {"width_height: 512\n", "width_height: expected [width, height]"},
                {"eta: fast\n", "eta: expected a number"},
                {"clamp_grad: [1, 2]\n", "clamp_grad: the schedule has 2 entries"},
                {"perlin_mode: rainbow\n", "perlin_mode: expected one of [mixed, color, gray]"},
                {"diffusion_sampling_mode: euler\n", "diffusion_sampling_mode: expected one of [ddim, plms]"},
                {"- just\n- a list\n", "expected a mapping of settings keys"},
                {"steps: [1\n", "not valid YAML"},
        };
        int n = 0;
        for (Object[] c : cases) {
            Path f = write("bad" + (n++) + ".yml", (String) c[0]);
            DiscoException e = bad(f, null);
            assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
            assertTrue(e.getMessage().contains((String) c[1]), "expected '" + c[1] + "' in: " + e.getMessage());
        }
        Path json = write("bad.json", "{\"steps\": 10,}");
        assertTrue(bad(json, null).getMessage().contains("not valid JSON"));
        Path dd = write("dd_settings.txt", "{\"ViTB32\": \"yes\"}");
        assertTrue(bad(dd, null).getMessage().contains("ViTB32: expected true or false"));
        Path oc = write("dd2_settings.txt", "{\"ViTB32\": \"yes\", \"RN50_cc12m\": true}");
        assertTrue(bad(oc, null).getMessage().contains("ViTB32: expected true or false"));
        Path oc2 = write("dd3_settings.txt", "{\"ViTB32\": false, \"RN50_cc12m\": 1}");
        assertTrue(bad(oc2, null).getMessage().contains("RN50_cc12m: expected true or false"));
        DiscoException missing = bad(tmp.resolve("nope.yml"), null);
        assertTrue(missing.getMessage().startsWith(tmp.resolve("nope.yml") + ": cannot read"), missing.getMessage());
    }
}
