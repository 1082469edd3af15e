package disco.sweep;

import disco.util.DiscoException;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** --shard I/N and --shard auto from the schedulers' environment variables. */
class ShardSpecTest {
    @Test
    void explicitAndAuto() {
        assertEquals(new ShardSpec(2, 3), ShardSpec.parse(" 2/3 ", Map.of()));
        // a whole Slurm array 1-3
        assertEquals(new ShardSpec(3, 3), ShardSpec.parse("auto", Map.of("SLURM_ARRAY_TASK_ID", "3",
                "SLURM_ARRAY_TASK_COUNT", "3", "SLURM_ARRAY_TASK_MIN", "1", "SLURM_ARRAY_TASK_MAX", "3")));
        // an array re-submitted for shard 2 only: DISCO_SHARDS gives N
        assertEquals(new ShardSpec(2, 3), ShardSpec.parse("auto", Map.of("SLURM_ARRAY_TASK_ID", "2",
                "SLURM_ARRAY_TASK_COUNT", "1", "SLURM_ARRAY_TASK_MIN", "2", "SLURM_ARRAY_TASK_MAX", "2", "DISCO_SHARDS", "3")));
        // a Kubernetes indexed Job: 0-based index
        assertEquals(new ShardSpec(1, 4), ShardSpec.parse("auto", Map.of("JOB_COMPLETION_INDEX", "0", "DISCO_SHARDS", "4")));
        assertEquals(new ShardSpec(4, 4), ShardSpec.parse("auto", Map.of("JOB_COMPLETION_INDEX", "3", "DISCO_SHARDS", "4")));
    }

    @Test
    void badInputNamesTheVariable() {
        Object[][] cases = {
                {"3/2", Map.of(), "--shard"},
                {"auto", Map.of(), "SLURM_ARRAY_TASK_ID"},
                {"auto", Map.of("JOB_COMPLETION_INDEX", "0"), "DISCO_SHARDS"},
                {"auto", Map.of("JOB_COMPLETION_INDEX", "4", "DISCO_SHARDS", "4"), "outside 1..4"},
                {"auto", Map.of("SLURM_ARRAY_TASK_ID", "x", "DISCO_SHARDS", "4"), "SLURM_ARRAY_TASK_ID"},
                // a partial array without DISCO_SHARDS would split the sweep wrongly
                {"auto", Map.of("SLURM_ARRAY_TASK_ID", "2", "SLURM_ARRAY_TASK_COUNT", "1", "SLURM_ARRAY_TASK_MIN", "2",
                        "SLURM_ARRAY_TASK_MAX", "2"), "DISCO_SHARDS"},
        };
        for (Object[] c : cases) {
            @SuppressWarnings("unchecked")
            Map<String, String> env = (Map<String, String>) c[1];
            DiscoException e = assertThrows(DiscoException.class, () -> ShardSpec.parse((String) c[0], env), c[0] + " " + env);
            assertEquals(2, e.exitCode());
            assertTrue(e.getMessage().contains((String) c[2]), e.getMessage());
        }
    }
}
