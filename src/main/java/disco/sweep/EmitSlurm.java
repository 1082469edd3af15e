package disco.sweep;

import disco.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code --emit slurm DIR}: an {@code sbatch} array script with one task per shard ({@code --array=1-N}, each task
 * runs {@code --shard auto}), a {@code --collect} script, and {@code submit.sh}, which submits the array and the
 * collect job with {@code --dependency=afterany} on it (the collect runs whatever the shards' exit, and names what is
 * missing); {@code submit.sh 2,3} submits only shards 2 and 3 and a new collect. The jobs run the same Java and
 * class path as this process, in the directory the sweep was emitted from: Slurm's nodes are assumed to share the
 * file system (the sweep file, the build and {@code --out}).
 */
public final class EmitSlurm {
    private EmitSlurm() {}

    /** The files written, in {@code dir}: shards.sbatch, collect.sbatch, submit.sh; logs/ for the jobs' output. */
    public static List<Path> write(Path dir, EmitJob job, String javaBin, String classpath) throws IOException {
        dir = dir.toAbsolutePath().normalize();
        Path logs = dir.resolve("logs");
        Files.createDirectories(logs);
        Path shards = dir.resolve("shards.sbatch"), collect = dir.resolve("collect.sbatch"), submit = dir.resolve("submit.sh");
        String java = EmitJob.sh(javaBin) + " -Xss8m ${DISCO_JAVA_OPTS:-} -cp " + EmitJob.sh(classpath) + " disco.cli.Main sweep "
                + EmitJob.shJoin(job.sweepArgs());

        StringBuilder s = new StringBuilder("#!/bin/bash\n");
        s.append("# disco sweep: ").append(job.runs()).append(" runs in ").append(job.shards())
                .append(" shards (whole prefix groups, balanced by executed steps: ").append(steps(job)).append(").\n");
        s.append("# Written by `disco sweep --emit slurm`; submit with ").append(submit)
                .append(" (this array and a --collect job after it).\n");
        s.append("# Each array task is one shard: --shard auto reads SLURM_ARRAY_TASK_ID (1..N) and DISCO_SHARDS (N).\n");
        s.append("# ").append(job.estimate()).append('\n');
        s.append("#SBATCH --job-name=").append(job.name()).append('\n');
        s.append("#SBATCH --array=1-").append(job.shards()).append('\n');
        s.append("#SBATCH --chdir=").append(job.workDir()).append('\n');
        s.append("#SBATCH --output=").append(logs).append("/shard-%a-job-%A.out\n");
        s.append("#SBATCH --ntasks=1\n");
        if (job.cpus() != null) s.append("#SBATCH --cpus-per-task=").append(job.cpus()).append('\n');
        if (job.memoryBytes() != null) s.append("#SBATCH --mem=").append(EmitJob.mib(job.memoryBytes())).append("M\n");
        if (job.gpu()) {
            s.append("#SBATCH --gres=gpu:1\n");
            if (job.gpuBytes() != null) {
                s.append("# each shard needs a GPU with at least ").append(EmitJob.gib(job.gpuBytes()))
                        .append(" (estimate); choose such GPUs with your cluster's --gres=gpu:TYPE:1 or --constraint\n");
            }
        }
        s.append("set -euo pipefail\n");
        s.append("export ").append(ShardSpec.SHARDS_ENV).append('=').append(job.shards()).append('\n');
        s.append("export GOMP_SPINCOUNT=\"${GOMP_SPINCOUNT:-10000}\" OPENBLAS_THREAD_TIMEOUT=\"${OPENBLAS_THREAD_TIMEOUT:-4}\"\n");
        s.append("echo \"disco: shard ${SLURM_ARRAY_TASK_ID}/").append(job.shards()).append(" on $(hostname)\" >&2\n");
        s.append("exec ").append(java).append(" --shard auto\n");

        StringBuilder c = new StringBuilder("#!/bin/bash\n");
        c.append("# disco sweep: builds the contact sheets and index.html in ").append(job.out())
                .append(" once the shards are done, and checks that every run is there:\n");
        c.append("# exit status 5 names the missing or failed runs and the command that re-submits only their shards.\n");
        c.append("#SBATCH --job-name=").append(job.name()).append("-collect\n");
        c.append("#SBATCH --chdir=").append(job.workDir()).append('\n');
        c.append("#SBATCH --output=").append(logs).append("/collect-job-%j.out\n");
        c.append("#SBATCH --ntasks=1\n");
        if (job.memoryBytes() != null) c.append("#SBATCH --mem=").append(EmitJob.mib(job.memoryBytes())).append("M\n");
        c.append("set -euo pipefail\n");
        c.append("export ").append(ShardSpec.SHARDS_ENV).append('=').append(job.shards()).append('\n');
        c.append("export DISCO_SWEEP_RESUBMIT=").append(EmitJob.sh(submit.toString())).append('\n');
        c.append("exec ").append(java).append(" --collect\n");

        StringBuilder u = new StringBuilder("#!/usr/bin/env bash\n");
        u.append("# Submits the sweep's shards as a Slurm array job and a --collect job that runs after them.\n");
        u.append("#   ").append(submit).append("          every shard (1-").append(job.shards()).append(")\n");
        u.append("#   ").append(submit).append(" 2,3      only shards 2 and 3 (what --collect names when they did not finish)\n");
        u.append("# Prints the two job ids on stdout.\n");
        u.append("set -euo pipefail\n");
        u.append("here=").append(EmitJob.sh(dir.toString())).append('\n');
        u.append("shards=\"${1:-1-").append(job.shards()).append("}\"\n");
        u.append("if [[ ! \"$shards\" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]]; then\n");
        u.append("  echo \"submit.sh: expected shard numbers like 2,3 or 1-").append(job.shards())
                .append(", found '$shards'\" >&2; exit 2\nfi\n");
        u.append("array=\"$(sbatch --parsable --array=\"$shards\" \"$here/shards.sbatch\")\"\n");
        u.append("array=\"${array%%;*}\"\n");
        u.append("collect=\"$(sbatch --parsable --dependency=afterany:\"$array\" \"$here/collect.sbatch\")\"\n");
        u.append("collect=\"${collect%%;*}\"\n");
        u.append("echo \"disco: shards $shards of ").append(job.shards())
                .append(": array job $array; collect job $collect after it (squeue -j $array,$collect; logs in $here/logs)\" >&2\n");
        u.append("echo \"disco: then ").append(job.out()).append(" has the contact sheet and index.html; the collect log names any missing run\" >&2\n");
        u.append("echo \"$array $collect\"\n");

        List<Path> files = new ArrayList<>();
        for (Object[] f : new Object[][] {{shards, s}, {collect, c}, {submit, u}}) {
            Path p = (Path) f[0];
            AtomicFiles.writeString(p, f[1].toString());
            executable(p);
            files.add(p);
        }
        return files;
    }

    static String steps(EmitJob job) {
        List<String> s = new ArrayList<>();
        for (int i = 0; i < job.shardSteps().size(); i++) s.add((i + 1) + ": " + job.shardSteps().get(i));
        return String.join(", ", s) + " steps";
    }

    static void executable(Path p) throws IOException {
        if (p.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }
}
