package disco.sweep;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@code disco sweep --emit slurm|k8s DIR} writes a scheduler's job for: the sweep's command line (without
 * {@code --emit}, {@code --shard}, {@code --collect}, {@code --dry-run}), the directory it runs in and its
 * {@code --out}, the number of shards, and the resources one shard needs as far as the memory estimate knows them.
 *
 * @param name          a job name ({@code disco-sweep-<digest prefix>})
 * @param sweepArgs     the arguments after {@code sweep}, as the user gave them (paths relative to {@code workDir})
 * @param workDir       the directory the sweep was emitted from: the jobs run there
 * @param out           the sweep directory ({@code --out}), absolute
 * @param shards        array tasks / completions
 * @param runs          the sweep's runs (for the comments)
 * @param shardSteps    executed steps per shard (index 0 is shard 1)
 * @param memoryBytes   host memory one shard needs (estimate with margin), or null when not known
 * @param gpuBytes      GPU memory one shard needs on CUDA (estimate plus the CUDA context), or null (CPU, or not known)
 * @param gpu           whether the shards run on CUDA ({@code --device cuda}): one GPU per shard
 * @param cpus          CPUs per shard ({@code --threads}), or null when not given
 * @param estimate      one line saying what the estimate is made of, or why there is none
 */
public record EmitJob(String name, List<String> sweepArgs, Path workDir, Path out, int shards, int runs,
                      List<Long> shardSteps, Long memoryBytes, Long gpuBytes, boolean gpu, Integer cpus, String estimate) {

    /** A POSIX shell word for {@code s}: as it is when safe, else in single quotes. */
    public static String sh(String s) {
        if (!s.isEmpty() && s.matches("[A-Za-z0-9_@%+=:,./-]+")) return s;
        return "'" + s.replace("'", "'\\''") + "'";
    }

    static String shJoin(List<String> words) {
        StringBuilder sb = new StringBuilder();
        for (String w : words) sb.append(sb.length() == 0 ? "" : " ").append(sh(w));
        return sb.toString();
    }

    /** Bytes to whole MiB, rounded up. */
    static long mib(long bytes) {
        return (bytes + (1L << 20) - 1) >> 20;
    }

    static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
