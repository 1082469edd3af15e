package disco.sweep;

import disco.util.DiscoException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The constraint/template expression language, value lists and ranges, and the definition's bad-input checks. */
class SweepGrammarTest {
    @TempDir
    Path tmp;

    static Object ev(String e, Map<String, Object> vars) {
        return Expr.parse(e).eval(vars);
    }

    @Test
    void arithmeticFollowsPython() {
        Map<String, Object> v = Map.of("a", 7L, "b", 2L, "x", 0.5);
        assertEquals(9L, ev("a + b", v));
        assertEquals(14L, ev("a * b", v));
        assertEquals(3.5, ev("a / b", v));
        assertEquals(3L, ev("a // b", v));
        assertEquals(-4L, ev("-a // b", v));
        assertEquals(1L, ev("-a % b", v)); // floor modulo
        assertEquals(1L, ev("a % b", v));
        assertEquals(7.5, ev("a + x", v));
        assertEquals(-3L, ev("-(a - 4)", v));
        assertEquals(17L, ev("1 + 2 * 8", v));
        assertEquals(24L, ev("(1 + 2) * 8", v));
        assertEquals(1.5e3, ev("1.5e3", v));
        assertEquals("ab", ev("'a' + \"b\"", v));
    }

    @Test
    void comparisonsAndLogic() {
        Map<String, Object> v = Map.of("s1", 400L, "s2", 600L, "m", "plms");
        assertTrue(Expr.parse("s1+s2>=1000").test(v));
        assertFalse(Expr.parse("s1+s2>1000").test(v));
        assertTrue(Expr.parse("s1 < s2 and not s1 == 0").test(v));
        assertTrue(Expr.parse("s1 == 0 or s2 != 0").test(v));
        assertTrue(Expr.parse("s1 == 0 || (s2 == 600 && !(s1 > 500))").test(v));
        assertTrue(Expr.parse("m == 'plms'").test(v));
        assertTrue(Expr.parse("s1 % 200 == 0").test(v));
        assertTrue(Expr.parse("400.0 == s1").test(v));
        assertFalse(Expr.parse("False").test(v));
        assertEquals(List.of("s1", "s2", "m"), List.copyOf(Expr.parse("s1 < s2 or m == 'x' and s1 > 0").variables()));
    }

    @Test
    void precedenceAndBeforeOr() {
        Map<String, Object> v = Map.of();
        assertEquals(true, ev("True or False and False", v));
        assertEquals(false, ev("not True or False", v));
    }

    @Test
    void syntaxErrorsNameTheColumn() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Expr.parse("s1 + * 2"));
        assertTrue(e.getMessage().contains("column 6"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Expr.parse("s1 = 2"));
        assertThrows(IllegalArgumentException.class, () -> Expr.parse("(s1 + 2"));
        assertThrows(IllegalArgumentException.class, () -> Expr.parse("s1 < 2 < 3"));
        assertThrows(IllegalArgumentException.class, () -> Expr.parse("__import__('os')('x')"));
        assertThrows(IllegalArgumentException.class, () -> Expr.parse("1 2"));
        assertThrows(IllegalArgumentException.class, () -> Expr.parse("'open"));
        assertThrows(IllegalArgumentException.class, () -> Expr.parse(""));
        // evaluation errors
        assertThrows(IllegalArgumentException.class, () -> ev("q + 1", Map.of()));
        assertThrows(IllegalArgumentException.class, () -> ev("1 / 0", Map.of()));
        assertThrows(IllegalArgumentException.class, () -> ev("'a' < 1", Map.of()));
        assertThrows(IllegalArgumentException.class, () -> Expr.parse("1 + 2").test(Map.of()));
    }

    @Test
    void deepNestingAndOverflowAreErrorsNotCrashes() {
        for (String deep : new String[] {"(".repeat(50_000) + "1" + ")".repeat(50_000) + " > 0",
                "-".repeat(50_000) + "1 > 0", "not ".repeat(50_000) + "True", "1" + " + 1".repeat(50_000) + " > 0"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Expr.parse(deep));
            assertTrue(e.getMessage().contains("nested more than " + Expr.MAX_DEPTH), e.getMessage());
            assertTrue(e.getMessage().length() < 300, "the source is abbreviated");
        }
        assertEquals(true, ev("(".repeat(100) + "1" + ")".repeat(100) + " + 1" .repeat(100) + " > 100", Map.of()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ev("9223372036854775807 + 1 > 0", Map.of()));
        assertTrue(e.getMessage().contains("integer overflow"), e.getMessage());
    }

    @Test
    void rangesIncludeTheirEnd() {
        assertEquals(List.of(0L, 200L, 400L, 600L, 800L, 1000L), Axis.parseValues("0:1000:200", "t"));
        assertEquals(List.of(0L, 300L, 600L, 900L), Axis.parseValues("0:1000:300", "t"));
        assertEquals(List.of(3L, 4L, 5L), Axis.parseValues("3:5", "t"));
        assertEquals(List.of(5L, 3L, 1L), Axis.parseValues("5:1:-2", "t"));
        assertEquals(List.of(0.1, 0.2, 0.3), Axis.parseValues("0.1:0.3:0.1", "t"));
        assertEquals(List.of(7L), Axis.parseValues("7:7:1", "t"));
        assertEquals(List.of(1L, 2.5, "ddim", "a, b"), Axis.parseValues("1, 2.5, ddim, \"a, b\"", "t"));
        assertThrows(IllegalArgumentException.class, () -> Axis.parseValues("0:10:0", "t"));
        assertThrows(IllegalArgumentException.class, () -> Axis.parseValues("10:0:1", "t"));
        assertThrows(IllegalArgumentException.class, () -> Axis.parseValues("0:x:1", "t"));
        assertThrows(IllegalArgumentException.class, () -> Axis.parseValues("", "t"));
        assertThrows(IllegalArgumentException.class, () -> Axis.parseValues("1,,2", "t"));
        assertThrows(IllegalArgumentException.class, () -> Axis.parseValues("0:1000000000:1", "t"));
    }

    @Test
    void templatesRenderExpressions() {
        List<Object> parts = Expr.templateParts("[True]*{s1}+[False]*({1000-s1}) {{x}}");
        StringBuilder sb = new StringBuilder();
        for (Object p : parts) sb.append(p instanceof Expr e ? Expr.format(e.eval(Map.of("s1", 200L))) : p);
        assertEquals("[True]*200+[False]*(800) {x}", sb.toString());
        assertEquals("0.5", Expr.format(0.5));
        assertEquals("2.0", Expr.format(2.0));
        assertThrows(IllegalArgumentException.class, () -> Expr.templateParts("[True]*{s1"));
        assertThrows(IllegalArgumentException.class, () -> Expr.templateParts("a}b"));
        assertThrows(IllegalArgumentException.class, () -> Expr.templateParts("{}"));
    }

    static SweepDef.Builder blog() {
        return new SweepDef.Builder()
                .template("clip_models=[RN50, ViT-L/14]")
                .template("steps=50").template("n_batches=1").template("seed=3")
                .template("clip_models_schedules.RN50=[True]*{s1}+[False]*(1000-{s1})")
                .template("clip_models_schedules.ViT-L/14=[False]*(1000-{s2})+[True]*{s2}")
                .grid("s1=0:1000:200").grid("s2=0:1000:200").where("s1+s2>=1000");
    }

    @Test
    void templatesReachNestedKeysAndModelNamesWithSlashes() {
        List<SweepRun> runs = blog().build().runs(null);
        assertEquals(21, runs.size());
        SweepRun r = runs.stream().filter(x -> x.name().equals("s1=400_s2=600")).findFirst().orElseThrow();
        assertEquals(Map.of("s1", 400L, "s2", 600L), r.vars());
        assertEquals("[True]*400+[False]*(1000-400)", r.settings().clipModelsSchedules().get("RN50"));
        assertEquals("[False]*(1000-600)+[True]*600", r.settings().clipModelsSchedules().get("ViT-L/14"));
        assertEquals(3L, r.settings().seed());
        assertEquals("s1=400_s2=600", r.settings().batchName());
    }

    @Test
    void seedsAndPromptsAreAxes() {
        List<SweepRun> runs = new SweepDef.Builder().template("steps=20").seeds("1,2").prompt("a cat").prompt("a dog:2")
                .build().runs(null);
        assertEquals(4, runs.size());
        assertEquals(List.of("seed=1_prompt=0", "seed=1_prompt=1", "seed=2_prompt=0", "seed=2_prompt=1"),
                runs.stream().map(SweepRun::name).toList());
        assertEquals(2L, runs.get(3).settings().seed());
        assertEquals(List.of("a dog:2"), runs.get(3).settings().textPrompts());
    }

    @Test
    void badInputIsOneLineBeforeAnyCompute() {
        // a template naming an unknown key
        DiscoException e = assertThrows(DiscoException.class, () -> new SweepDef.Builder().template("clip_guidnce_scale=5").build());
        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().contains("clip_guidnce_scale"), e.getMessage());
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().template("steps.x=5").build());
        // a template using an unknown variable
        e = assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("s1=1,2").template("steps={s3}").build());
        assertTrue(e.getMessage().contains("s3"), e.getMessage());
        // a variable without values
        e = assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("s1=").build());
        assertTrue(e.getMessage().contains("s1"), e.getMessage());
        // two axes with the same name
        e = assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("s1=1,2").grid("s1=3").build());
        assertTrue(e.getMessage().contains("two axes named 's1'"), e.getMessage());
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("seed=1,2").seeds("3,4").build());
        // a constraint that excludes everything
        e = assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("s1=1,2").where("s1 > 5").build().runs(1L));
        assertTrue(e.getMessage().contains("exclude all 2"), e.getMessage());
        // a constraint naming an unknown variable, and one that does not parse
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("s1=1,2").where("s9 > 5").build());
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("s1=1,2").where("s1 >> 5").build());
        // a model schedule for a model the run does not have; a schedule that is not 1000 entries
        e = assertThrows(DiscoException.class, () -> new SweepDef.Builder().template("clip_models=[RN50]")
                .template("clip_models_schedules.ViT-B/32=[True]*1000").build().runs(1L));
        assertTrue(e.getMessage().startsWith("sweep run run: "), e.getMessage());
        e = assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("n=10,1000").template("clip_models=[RN50]")
                .template("clip_models_schedules.RN50=[True]*{n}").build().runs(1L));
        assertTrue(e.getMessage().contains("n=10"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        // the same key twice; an unknown contact-sheet axis
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().template("steps=5").template("steps=6").build());
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("s1=1,2").contactAxes(List.of("s2")).build());
        // bad variable names
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("1x=1,2").build());
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().grid("and=1,2").build());
    }

    @Test
    void sweepFileAndCommandLineCombine() throws Exception {
        Path f = tmp.resolve("s.yml");
        Files.writeString(tmp.resolve("base.yml"), "clip_models: [RN50, ViT-L/14]\nsteps: 40\nn_batches: 1\nseed: 9\n");
        Files.writeString(f, """
                settings: base.yml
                set:
                  clip_models_schedules.RN50: "[True]*{s1}+[False]*(1000-{s1})"
                  tv_scale: "{tv}"
                grid:
                  s1: [200, 800]
                  tv: "0:100:50"
                where: ["tv < 100 or s1 == 800"]
                axes: [tv, s1]
                """);
        SweepDef d = new SweepDef.Builder().file(f).template("tv_scale={tv * 2}").build();
        List<SweepRun> runs = d.runs(null);
        assertEquals(List.of("s1=200_tv=0", "s1=200_tv=50", "s1=800_tv=0", "s1=800_tv=50", "s1=800_tv=100"),
                runs.stream().map(SweepRun::name).toList());
        assertEquals(200.0, runs.get(4).plan().step(0).tvScale());
        assertEquals(40, runs.get(0).settings().steps());
        assertEquals(List.of("tv", "s1"), d.contactAxes());
        Files.writeString(f, "grid: {s1: [1]}\nfoo: 1\n");
        assertThrows(DiscoException.class, () -> new SweepDef.Builder().file(f));
    }
}
