package disco.reference;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PromptReferenceChecksTest {
    @TempDir
    Path tmp;

    private static Path referenceA() {
        Assumptions.assumeTrue(Fixtures.referenceA().isPresent(), Fixtures.missingMessage());
        Assumptions.assumeTrue(Files.exists(Fixtures.referenceA().get().resolve("prompts_v1.json")),
                "reference A has no prompts_v1.json");
        return Fixtures.referenceA().get();
    }

    @Test
    void passesOnReferenceA() {
        List<CheckResult> rs = new PromptReferenceChecks().run(new ReferenceContext(referenceA(), null));
        assertEquals(1, rs.size());
        assertEquals("prompts/v1_plan", rs.get(0).name());
        assertTrue(rs.get(0).pass(), rs.get(0).line());
    }

    @Test
    void isRegistered() {
        assertTrue(ReferenceChecks.all().stream().anyMatch(c -> c instanceof PromptReferenceChecks));
    }

    /** A copy of the check's files with the plan edited. */
    private ReferenceContext editedPlan(Consumer<ObjectNode> edit) throws IOException {
        Path a = referenceA();
        Path dir = Files.createTempDirectory(tmp, "ref");
        for (String f : new String[] {"prompts_v1.json", "settings.json"}) Files.copy(a.resolve(f), dir.resolve(f));
        ObjectMapper om = new ObjectMapper();
        ObjectNode plan = (ObjectNode) om.readTree(a.resolve("prompts_v1_plan.json").toFile());
        edit.accept(plan);
        om.writeValue(dir.resolve("prompts_v1_plan.json").toFile(), plan);
        return new ReferenceContext(dir, null);
    }

    private static ObjectNode firstUsed(ObjectNode plan) {
        for (var e : plan.get("plan")) {
            for (var m : e.get("models")) if (m.get("used").asBoolean()) return (ObjectNode) m;
        }
        throw new AssertionError("no used model in the fixture");
    }

    @Test
    void noticesAWrongFp16Weight() throws IOException {
        ReferenceContext ctx = editedPlan(p -> {
            ArrayNode w = (ArrayNode) firstUsed(p).get("weights_fp16");
            w.set(0, w.get(0).asDouble() + 0x1p-10); // one float16 step away
        });
        CheckResult r = new PromptReferenceChecks().run(ctx).get(0);
        assertFalse(r.pass(), r.line());
        assertTrue(r.detail().contains("weights_fp16"), r.line());
    }

    @Test
    void noticesWrongIdsAndF32Weights() throws IOException {
        CheckResult ids = new PromptReferenceChecks().run(editedPlan(p -> {
            ArrayNode a = (ArrayNode) firstUsed(p).get("prompt_ids");
            a.remove(a.size() - 1);
        })).get(0);
        assertFalse(ids.pass(), ids.line());
        CheckResult f32 = new PromptReferenceChecks().run(editedPlan(p -> {
            ArrayNode w = (ArrayNode) firstUsed(p).get("weights_f32");
            w.set(0, w.get(0).asDouble() * (1 + 1e-5));
        })).get(0);
        assertFalse(f32.pass(), f32.line());
        assertTrue(f32.maxRelErr() > 5e-6, f32.line());
    }

    @Test
    void noticesARunPlanThatDisagrees() throws IOException {
        // mark a model used at a probed run index where the fixture says it is not: the run's step plan must differ
        ReferenceContext ctx = editedPlan(p -> {
            int probe = p.get("run_sched_indices").get(0).asInt();
            for (var e : p.get("plan")) {
                if (e.get("num_step").asInt() != probe) continue;
                for (var m : e.get("models")) ((ObjectNode) m).put("used", !m.get("used").asBoolean());
            }
        });
        CheckResult r = new PromptReferenceChecks().run(ctx).get(0);
        assertFalse(r.pass(), r.line());
    }
}
