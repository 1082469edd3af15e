package disco.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * disco sweep --emit: the Slurm scripts (array of --shard auto tasks with the memory estimate, a collect script,
 * submit.sh; valid bash) and the Kubernetes manifest (valid YAML: an indexed Job with completions = shards, the
 * shard count in the environment, the shared volume at --out, the sweep file in a ConfigMap); bad input.
 */
class SweepEmitTest {
    @TempDir
    Path tmp;
    private final CliRun cli = new CliRun();

    @SuppressWarnings("unchecked")
    static <T> T at(Object node, Object... path) {
        Object n = node;
        for (Object p : path) {
            assertNotNull(n, "at " + List.of(path));
            n = p instanceof Integer i ? ((List<Object>) n).get(i) : ((Map<String, Object>) n).get(p);
        }
        return (T) n;
    }

    @Test
    void theJobRepeatsTheSweepWithoutEmitOptions() {
        assertEquals(List.of("f.yml", "--threads", "1", "--out", "o", "--set", "tv_scale=1"),
                SweepEmit.sweepArgs(List.of("sweep", "f.yml", "--threads", "1", "--emit", "slurm", "d", "--out", "o",
                        "--shards=3", "--set", "tv_scale=1", "--shard", "auto", "--dry-run", "--image", "i", "--volume-claim=c")));
    }

    @Test
    void slurmScripts() throws Exception {
        Path dir = tmp.resolve("slurm");
        assertEquals(0, cli.run("sweep", "examples/demo-grid.yml", "--threads", "2", "--out", tmp.resolve("out").toString(),
                "--emit", "slurm", dir.toString(), "--shards", "3"), cli.stderr());
        assertTrue(cli.stdout().contains("# submit: " + dir.resolve("submit.sh")), cli.stdout());
        String shards = Files.readString(dir.resolve("shards.sbatch"));
        assertTrue(shards.contains("#SBATCH --array=1-3\n"), shards);
        assertTrue(shards.contains("#SBATCH --cpus-per-task=2\n"), shards);
        assertTrue(shards.matches("(?s).*#SBATCH --mem=\\d+M\n.*"), shards);
        assertTrue(shards.contains("#SBATCH --chdir=" + Path.of("").toAbsolutePath() + "\n"), shards);
        assertTrue(shards.contains("export DISCO_SHARDS=3\n"), shards);
        assertTrue(shards.contains(" disco.cli.Main sweep examples/demo-grid.yml --threads 2 --out " + tmp.resolve("out") + " --shard auto\n"), shards);
        String exec = shards.lines().filter(l -> l.startsWith("exec ")).findFirst().orElseThrow();
        assertFalse(exec.contains("--emit") || exec.contains("--shards"), exec);
        assertFalse(shards.contains("--gres"), "a CPU sweep asks for no GPU");
        String collect = Files.readString(dir.resolve("collect.sbatch"));
        assertTrue(collect.contains(" --collect\n") && collect.contains("DISCO_SWEEP_RESUBMIT=" + dir.resolve("submit.sh")), collect);
        String submit = Files.readString(dir.resolve("submit.sh"));
        assertTrue(submit.contains("--dependency=afterany:"), submit);
        assertTrue(Files.isDirectory(dir.resolve("logs")), "Slurm does not create the output directory");
        for (String f : List.of("shards.sbatch", "collect.sbatch", "submit.sh")) {
            assertTrue(Files.isExecutable(dir.resolve(f)), f);
            Process p = new ProcessBuilder("bash", "-n", dir.resolve(f).toString()).redirectErrorStream(true).start();
            String o = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), f + ": " + o);
        }
        // submit.sh refuses anything but shard numbers (its argument goes to sbatch)
        Process p = new ProcessBuilder("bash", dir.resolve("submit.sh").toString(), "1;rm").redirectErrorStream(true).start();
        String o = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), o);
        assertFalse(Files.exists(tmp.resolve("out")), "emitting runs nothing");

        // on CUDA: one GPU per task, and the GPU memory a shard needs from the estimate (no GPU needed to emit)
        Path gpu = tmp.resolve("gpu");
        assertEquals(0, cli.run("sweep", "examples/demo-grid.yml", "--device", "cuda", "--threads", "1", "--out",
                tmp.resolve("out").toString(), "--emit", "slurm", gpu.toString(), "--shards", "2"), cli.stderr());
        String g = Files.readString(gpu.resolve("shards.sbatch"));
        assertTrue(g.contains("#SBATCH --gres=gpu:1\n"), g);
        assertTrue(g.matches("(?s).*# each shard needs a GPU with at least \\d+\\.\\d\\d GiB.*"), g);
        assertTrue(g.contains(" --device cuda "), g);
    }

    @Test
    void kubernetesIndexedJobIsValidYaml() throws Exception {
        Path dir = tmp.resolve("k8s");
        // --out below the working directory (the volume is mounted at its relative path in the pod); not created
        assertEquals(0, cli.run("sweep", "examples/demo-grid.yml", "--threads", "1", "--out", "target/k8s-sweep-out",
                "--emit", "k8s", dir.toString(), "--shards", "3", "--image", "registry.example/disco:1",
                "--volume-claim", "disco-data"), cli.stderr());
        assertTrue(cli.stdout().contains("kubectl apply -f " + dir.resolve("sweep-job.yaml")), cli.stdout());
        Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
        List<Object> docs = new ArrayList<>();
        for (Object d : yaml.loadAll(Files.readString(dir.resolve("sweep-job.yaml")))) docs.add(d);
        assertEquals(2, docs.size());
        Object cm = docs.get(0), job = docs.get(1);
        assertEquals("ConfigMap", at(cm, "kind"));
        assertEquals(Files.readString(Path.of("examples/demo-grid.yml")), at(cm, "data", "file-0"));
        assertEquals("batch/v1", at(job, "apiVersion"));
        assertEquals("Job", at(job, "kind"));
        String name = at(job, "metadata", "name");
        assertTrue(name.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?") && name.length() <= 63, name);
        // Indexed: each pod gets JOB_COMPLETION_INDEX, which --shard auto reads
        assertEquals("Indexed", at(job, "spec", "completionMode"));
        assertEquals(3, (int) at(job, "spec", "completions"));
        assertEquals(3, (int) at(job, "spec", "parallelism"));
        assertEquals("Never", at(job, "spec", "template", "spec", "restartPolicy"));
        Object c = at(job, "spec", "template", "spec", "containers", 0);
        assertEquals("registry.example/disco:1", at(c, "image"));
        assertEquals(List.of("disco", "sweep", "examples/demo-grid.yml", "--threads", "1", "--out", "target/k8s-sweep-out",
                "--shard", "auto"), at(c, "command"));
        assertEquals(List.of(Map.of("name", "DISCO_SHARDS", "value", "3")), at(c, "env"));
        assertTrue(((String) at(c, "resources", "limits", "memory")).matches("\\d+Mi"));
        String work = at(c, "workingDir");
        List<Map<String, Object>> mounts = at(c, "volumeMounts");
        List<Map<String, Object>> volumes = at(job, "spec", "template", "spec", "volumes");
        Map<String, Object> outMount = mounts.stream().filter(m -> m.get("mountPath").equals(work + "/target/k8s-sweep-out")).findFirst().orElseThrow();
        Map<String, Object> outVolume = volumes.stream().filter(v -> v.get("name").equals(outMount.get("name"))).findFirst().orElseThrow();
        assertEquals("disco-data", at(outVolume, "persistentVolumeClaim", "claimName"));
        Map<String, Object> fileMount = mounts.stream().filter(m -> m.get("mountPath").equals(work + "/examples/demo-grid.yml")).findFirst().orElseThrow();
        assertEquals("file-0", fileMount.get("subPath"));
        Map<String, Object> fileVolume = volumes.stream().filter(v -> v.get("name").equals(fileMount.get("name"))).findFirst().orElseThrow();
        assertEquals((String) at(cm, "metadata", "name"), (String) at(fileVolume, "configMap", "name"));

        Object collect = yaml.load(Files.readString(dir.resolve("collect-job.yaml")));
        assertEquals("Job", at(collect, "kind"));
        List<String> cmd = at(collect, "spec", "template", "spec", "containers", 0, "command");
        assertEquals("--collect", cmd.get(cmd.size() - 1));
        assertFalse(Files.exists(Path.of("target/k8s-sweep-out")), "emitting runs nothing");
    }

    @Test
    void badInputIsOneLineAndExitCode2() {
        String d = tmp.resolve("e").toString();
        String[][] cases = {
                {"sweep", "examples/demo-grid.yml", "--emit", "slurm", d},
                {"sweep", "examples/demo-grid.yml", "--emit", "pbs", d, "--shards", "2"},
                {"sweep", "examples/demo-grid.yml", "--emit", "slurm", d, "--shards", "0"},
                {"sweep", "examples/demo-grid.yml", "--emit", "slurm", d, "--shards", "9"},
                {"sweep", "examples/demo-grid.yml", "--emit", "slurm", d, "--shards", "2", "--image", "x"},
                {"sweep", "examples/demo-grid.yml", "--emit", "k8s", d, "--shards", "2", "--volume-claim", "c"},
                {"sweep", "examples/demo-grid.yml", "--emit", "k8s", d, "--shards", "2", "--image", "i", "--volume-claim", "c",
                        "--out", tmp.resolve("elsewhere").toString()},
                {"sweep", "examples/demo-grid.yml", "--emit", "slurm", d, "--shards", "2", "--shard", "1/2"},
                {"sweep", "examples/demo-grid.yml", "--shards", "2", "--dry-run"},
                {"sweep", "examples/demo-grid.yml", "--shard", "auto", "--dry-run"},
        };
        for (String[] c : cases) {
            assertEquals(2, cli.run(c), String.join(" ", c) + ": " + cli.stderr());
            String e = cli.stderr().strip();
            assertTrue(e.startsWith("disco: "), e);
            assertEquals(1, e.lines().count(), String.join(" ", c) + ": " + e);
        }
        assertFalse(Files.exists(tmp.resolve("e")));
    }
}
