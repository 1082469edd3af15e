package disco.sweep;

import disco.util.DiscoException;

import java.util.Map;

/**
 * {@code --shard I/N} or {@code --shard auto}: which part of the sweep this process runs. {@code auto} reads the
 * scheduler's index: Slurm's array task ({@code SLURM_ARRAY_TASK_ID}, the shard number itself: the emitted array is
 * {@code 1-N}) or a Kubernetes indexed Job's {@code JOB_COMPLETION_INDEX} (0-based, shard = index + 1). The count N
 * is {@code DISCO_SHARDS} when set (the emitted scripts and manifests set it, so that an array re-submitted for a few
 * shards, {@code --array=2,3}, still splits the sweep in N), else {@code SLURM_ARRAY_TASK_COUNT} of a whole array
 * {@code 1-N}.
 */
public record ShardSpec(int index, int count) {
    public static final String SHARDS_ENV = "DISCO_SHARDS";

    public static ShardSpec whole() {
        return new ShardSpec(1, 1);
    }

    /** Parses {@code I/N} or {@code auto} (with {@code env}, the process environment). */
    public static ShardSpec parse(String text, Map<String, String> env) {
        String t = text.strip();
        if (t.equals("auto")) return auto(env);
        String[] p = t.split("/");
        try {
            if (p.length == 2) {
                int i = Integer.parseInt(p[0].strip()), n = Integer.parseInt(p[1].strip());
                if (n >= 1 && i >= 1 && i <= n) return new ShardSpec(i, n);
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw DiscoException.badInput("--shard: expected I/N with 1 <= I <= N, or auto, found '" + text + "'");
    }

    static ShardSpec auto(Map<String, String> env) {
        String slurm = env.get("SLURM_ARRAY_TASK_ID");
        String k8s = env.get("JOB_COMPLETION_INDEX");
        int index;
        String from;
        if (slurm != null) {
            index = integer(slurm, "SLURM_ARRAY_TASK_ID");
            from = "SLURM_ARRAY_TASK_ID=" + slurm;
        } else if (k8s != null) {
            index = integer(k8s, "JOB_COMPLETION_INDEX") + 1;
            from = "JOB_COMPLETION_INDEX=" + k8s;
        } else {
            throw DiscoException.badInput("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm array job) nor"
                    + " JOB_COMPLETION_INDEX (a Kubernetes indexed Job) is set; give --shard I/N");
        }
        int count;
        String shards = env.get(SHARDS_ENV);
        if (shards != null) {
            count = integer(shards, SHARDS_ENV);
        } else if (slurm != null && env.get("SLURM_ARRAY_TASK_COUNT") != null) {
            count = integer(env.get("SLURM_ARRAY_TASK_COUNT"), "SLURM_ARRAY_TASK_COUNT");
            String min = env.get("SLURM_ARRAY_TASK_MIN"), max = env.get("SLURM_ARRAY_TASK_MAX");
            if (min != null && max != null && (integer(min, "SLURM_ARRAY_TASK_MIN") != 1
                    || integer(max, "SLURM_ARRAY_TASK_MAX") != count)) {
                throw DiscoException.badInput("--shard auto: SLURM_ARRAY_TASK_COUNT: the array is " + min + "-" + max
                        + " with " + count + " tasks, not 1-N; set " + SHARDS_ENV + "=N (the number of shards)");
            }
        } else {
            throw DiscoException.badInput("--shard auto: " + SHARDS_ENV + ": expected the number of shards in the"
                    + " environment (" + from + " gives only the index)");
        }
        if (count < 1 || index < 1 || index > count) {
            throw DiscoException.badInput("--shard auto: " + from + " is shard " + index + ", outside 1.." + count);
        }
        return new ShardSpec(index, count);
    }

    private static int integer(String v, String name) {
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw DiscoException.badInput("--shard auto: " + name + ": expected an integer, found '" + v + "'");
        }
    }

    @Override
    public String toString() {
        return index + "/" + count;
    }
}
