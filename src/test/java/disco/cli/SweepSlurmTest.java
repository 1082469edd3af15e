package disco.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The demo grid (examples/demo-grid.yml, 21 runs) on a real Slurm: {@code .ci/slurm.sh up} starts munged, slurmctld
 * and slurmd on this machine; {@code disco sweep --emit slurm DIR --shards 3} writes the array job; its
 * {@code submit.sh 1,3} runs shards 1 and 3 and a collect job, which names shard 2's runs as missing and exits 5
 * with the command that re-submits shard 2; that command ({@code submit.sh 2}) completes the sweep, and the collected
 * contact sheet and every run's final image are byte for byte those of the same sweep run unsharded. The daemons are
 * stopped at the end whatever happens.
 *
 * <p>Needs Slurm (Debian's slurm-wlm and munge; {@code .ci/slurm.sh install}) and root; skipped without them, unless
 * {@code DISCO_SLURM_TEST=1} (set by {@code .ci/run}, which installs them first), where their absence fails.
 */
class SweepSlurmTest {
    @TempDir
    Path tmp;
    private final CliRun cli = new CliRun();
    private int threads;

    @BeforeEach
    void oneThread() {
        // the shards run with --threads 1: so does the unsharded sweep here (LibTorch's CPU results depend on the
        // intra-op thread count in the last bit)
        disco.torch.Torch.init();
        threads = org.bytedeco.pytorch.global.torch.get_num_threads();
    }

    @AfterEach
    void restoreThreads() {
        org.bytedeco.pytorch.global.torch.set_num_threads(threads);
    }

    static boolean onPath(String cmd) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/usr/sbin").split(":")) {
            if (Files.isExecutable(Path.of(dir, cmd))) return true;
        }
        return Files.isExecutable(Path.of("/usr/sbin", cmd));
    }

    static boolean root() {
        try {
            return Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*"));
        } catch (IOException e) {
            return false;
        }
    }

    record Out(int code, String text) {}

    private Out sh(Map<String, String> env, long seconds, String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        String path = pb.environment().getOrDefault("PATH", "/usr/bin:/bin");
        if (!path.contains("/usr/sbin")) pb.environment().put("PATH", path + ":/usr/sbin:/sbin");
        Process p = pb.start();
        byte[] b;
        try (var in = p.getInputStream()) {
            b = in.readAllBytes();
        }
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", cmd) + ": did not finish in " + seconds + " s");
        }
        return new Out(p.exitValue(), new String(b, StandardCharsets.UTF_8));
    }

    /** Waits until the jobs have left the queue; returns each one's exit code (from scontrol, e.g. "5:0"). */
    private List<String> await(Map<String, String> env, List<String> ids, Path logs) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (true) {
            Out q = sh(env, 30, "squeue", "-h", "-j", String.join(",", ids), "-o", "%i %T");
            if (q.code() == 0 && q.text().isBlank()) break;
            if (System.nanoTime() > deadline) fail("jobs " + ids + " still queued after 240 s: " + q.text() + logs(logs));
            Thread.sleep(500);
        }
        List<String> codes = new ArrayList<>();
        for (String id : ids) {
            Out s = sh(env, 30, "scontrol", "show", "job", id);
            Matcher m = Pattern.compile("ExitCode=(\\d+:\\d+)").matcher(s.text());
            assertTrue(m.find(), s.text());
            codes.add(m.group(1));
        }
        return codes;
    }

    private static String logs(Path dir) throws IOException {
        StringBuilder sb = new StringBuilder();
        if (!Files.isDirectory(dir)) return "";
        try (var ds = Files.newDirectoryStream(dir)) {
            for (Path f : ds) {
                String t = Files.readString(f);
                sb.append("\n== ").append(f.getFileName()).append('\n').append(t.length() > 3000 ? t.substring(t.length() - 3000) : t);
            }
        }
        return sb.toString();
    }

    private static String collectLog(Path logs, String job) throws IOException {
        return Files.readString(logs.resolve("collect-job-" + job + ".out"));
    }

    @Test
    void demoGridAsASlurmArrayEqualsTheUnshardedSweep() throws Exception {
        boolean required = "1".equals(System.getenv("DISCO_SLURM_TEST"));
        boolean there = onPath("sbatch") && onPath("slurmctld") && onPath("slurmd") && onPath("munged");
        String why = !there ? "Slurm is not installed (.ci/slurm.sh install: Debian's slurm-wlm and munge)"
                : !root() ? "not root: slurmd runs the jobs as root here" : null;
        if (why != null) {
            assertFalse(required, "DISCO_SLURM_TEST=1 but " + why);
            Assumptions.abort(why);
        }
        Path cluster = tmp.resolve("slurm");
        Map<String, String> env = Map.of("SLURM_CONF", cluster.resolve("slurm.conf").toString(),
                "OMP_WAIT_POLICY", "PASSIVE", "OMP_NUM_THREADS", "1", "MKL_NUM_THREADS", "1");
        try {
            Out up = sh(Map.of(), 120, ".ci/slurm.sh", "up", cluster.toString());
            assertEquals(0, up.code(), up.text());

            // the same sweep unsharded, here
            Path whole = tmp.resolve("whole");
            assertEquals(0, cli.run("sweep", "examples/demo-grid.yml", "--threads", "1", "--out", whole.toString()), cli.stderr());

            // the array job, emitted by a fresh JVM as a user would (its memory estimate measures its own baseline)
            Path sharded = tmp.resolve("sharded"), emit = tmp.resolve("emit");
            Out e = sh(env, 180, ProcessHandle.current().info().command().orElse("java"), "-Xss8m", "-cp",
                    System.getProperty("java.class.path"), "disco.cli.Main", "sweep", "examples/demo-grid.yml",
                    "--threads", "1", "--out", sharded.toString(), "--emit", "slurm", emit.toString(), "--shards", "3");
            assertEquals(0, e.code(), e.text());
            String script = Files.readString(emit.resolve("shards.sbatch"));
            assertTrue(script.contains("#SBATCH --array=1-3\n"), script);
            assertTrue(script.matches("(?s).*#SBATCH --mem=\\d+M\n.*"), script);
            assertTrue(script.contains("#SBATCH --cpus-per-task=1\n"), script);
            assertTrue(script.contains(" --shard auto\n"), script);
            Path submit = emit.resolve("submit.sh"), logs = emit.resolve("logs");

            // shards 1 and 3 only: the collect names shard 2's runs, exits 5 and says how to re-submit shard 2
            Out s1 = sh(env, 60, submit.toString(), "1,3");
            assertEquals(0, s1.code(), s1.text());
            List<String> ids = List.of(s1.text().strip().lines().reduce((a, b) -> b).orElseThrow().split(" "));
            assertEquals(2, ids.size(), s1.text());
            List<String> codes = await(env, ids, logs);
            String c1 = collectLog(logs, ids.get(1));
            assertEquals("0:0", codes.get(0), "the array job" + logs(logs));
            assertEquals("5:0", codes.get(1), c1);
            assertTrue(c1.contains("runs are not complete:"), c1);
            assertTrue(c1.contains("(shard 2/3): missing"), c1);
            assertFalse(c1.contains("(shard 1/3)") || c1.contains("(shard 3/3)"), c1);
            String again = submit + " 2";
            assertTrue(c1.contains("re-submit only those shards: " + again + "\n"), c1);

            // the command it names
            Out s2 = sh(env, 60, submit.toString(), "2");
            assertEquals(0, s2.code(), s2.text());
            ids = List.of(s2.text().strip().lines().reduce((a, b) -> b).orElseThrow().split(" "));
            codes = await(env, ids, logs);
            String c2 = collectLog(logs, ids.get(1));
            assertEquals(List.of("0:0", "0:0"), codes, c2 + logs(logs));
            assertTrue(c2.contains("all 21 runs are complete"), c2);

            assertArrayEquals(Files.readAllBytes(whole.resolve("contact-sheet.png")), Files.readAllBytes(sharded.resolve("contact-sheet.png")));
            int images = 0;
            try (var ds = Files.newDirectoryStream(whole, Files::isDirectory)) {
                for (Path run : ds) {
                    String n = run.getFileName().toString();
                    Path img = run.resolve(n + "(0)_0.png");
                    assertTrue(Files.exists(img), img.toString());
                    assertArrayEquals(Files.readAllBytes(img), Files.readAllBytes(sharded.resolve(n).resolve(n + "(0)_0.png")), n);
                    images++;
                }
            }
            assertEquals(21, images);
            // each shard wrote its own state file; no shard's fork spill is left behind
            for (int i = 1; i <= 3; i++) assertTrue(Files.exists(sharded.resolve("sweep.shard-" + i + "-of-3.json")));
        } finally {
            Out down = sh(Map.of(), 120, ".ci/slurm.sh", "down", cluster.toString());
            assertEquals(0, down.code(), down.text());
        }
    }
}
