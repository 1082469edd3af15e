package disco.reference;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScheduleChecksTest {
    @TempDir
    Path tmp;

    private static Path referenceA() {
        Assumptions.assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        return Fixtures.referenceA().get();
    }

    @Test
    void everyCheckPassesOnReferenceA() {
        List<CheckResult> rs = new ScheduleChecks().run(new ReferenceContext(referenceA(), null));
        assertEquals(3, rs.size());
        assertEquals("schedule/alphas_cumprod", rs.get(0).name());
        assertEquals("schedule/step_plan", rs.get(1).name());
        assertEquals("schedule/alphas_cumprod_cosine", rs.get(2).name());
        for (CheckResult r : rs) assertTrue(r.pass(), r.line());
    }

    /** The cosine check reads its schedule from schedule_cosine.json: the linear betas there fail it. */
    @Test
    void cosineCheckReadsItsScheduleFromTheFile() throws IOException {
        Path a = referenceA();
        Path dir = Files.createTempDirectory(tmp, "cos");
        for (String f : new String[] {"alphas_cumprod_cosine.npy", "timestep_map_cosine.npy"}) Files.copy(a.resolve(f), dir.resolve(f));
        ObjectMapper om = new ObjectMapper();
        ObjectNode s = (ObjectNode) om.readTree(a.resolve("schedule_cosine.json").toFile());
        s.put("noise_schedule", "linear");
        om.writeValue(dir.resolve("schedule_cosine.json").toFile(), s);
        CheckResult r = ScheduleChecks.cosine(new ReferenceContext(dir, null));
        assertFalse(r.pass(), r.line());
        s.put("noise_schedule", "cosine");
        om.writeValue(dir.resolve("schedule_cosine.json").toFile(), s);
        r = ScheduleChecks.cosine(new ReferenceContext(dir, null));
        assertTrue(r.pass(), r.line());
    }

    /** A copy of reference A's schedule files with settings.json edited: the checks must notice. */
    private ReferenceContext edited(java.util.function.Consumer<ObjectNode> edit) throws IOException {
        Path a = referenceA();
        Path dir = Files.createTempDirectory(tmp, "ref");
        for (String f : new String[] {"alphas_cumprod.npy", "timestep_map.npy", "run_schedule.json"}) {
            Files.copy(a.resolve(f), dir.resolve(f));
        }
        ObjectMapper om = new ObjectMapper();
        ObjectNode s = (ObjectNode) om.readTree(a.resolve("settings.json").toFile());
        edit.accept(s);
        om.writeValue(dir.resolve("settings.json").toFile(), s);
        return new ReferenceContext(dir, null);
    }

    @Test
    void aDifferentModelScheduleFailsTheStepPlan() throws IOException {
        ReferenceContext ctx = edited(s -> {
            String first = s.get("clip_models").get(0).asText();
            ((ObjectNode) s.get("schedules")).put(first, "[True]*1000");
        });
        List<CheckResult> rs = new ScheduleChecks().run(ctx);
        assertTrue(rs.get(0).pass(), rs.get(0).line());
        assertFalse(rs.get(1).pass(), rs.get(1).line());
        assertTrue(rs.get(1).detail().contains("active"), rs.get(1).line());
    }

    @Test
    void otherStepsFailBothChecks() throws IOException {
        ReferenceContext ctx = edited(s -> s.put("steps", s.get("steps").asInt() + 1).remove("diffusion_steps"));
        List<CheckResult> rs = new ScheduleChecks().run(ctx);
        assertFalse(rs.get(0).pass(), rs.get(0).line());
        assertFalse(rs.get(1).pass(), rs.get(1).line());
    }
}
