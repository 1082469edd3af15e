package disco.sweep;

import disco.util.AtomicFiles;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code --emit k8s DIR}: a Kubernetes indexed Job ({@code completionMode: Indexed}, {@code completions} =
 * {@code parallelism} = the shards; each pod runs {@code disco sweep … --shard auto}, which reads
 * {@code JOB_COMPLETION_INDEX} and {@code DISCO_SHARDS}) and a collect Job, each with the ConfigMap carrying the
 * sweep's input files. In the pod the sweep runs in {@code /disco/work}, an {@code emptyDir} laid out as the
 * directory the sweep was emitted from: the ConfigMap's files at their relative paths and the shared volume (a
 * {@code ReadWriteMany} PersistentVolumeClaim) at {@code --out}'s relative path, so the command line is the one
 * given here. The image must have {@code disco} on its PATH.
 */
public final class EmitK8s {
    public static final String WORK = "/disco/work";

    private EmitK8s() {}

    /**
     * Writes {@code DIR/sweep-job.yaml} and {@code DIR/collect-job.yaml}.
     *
     * @param files  the sweep's input files by their path relative to the working directory, with their text
     * @param outRel {@code --out} relative to the working directory
     */
    public static List<Path> write(Path dir, EmitJob job, String image, String claim, Map<String, String> files,
                                   String outRel) throws IOException {
        dir = dir.toAbsolutePath().normalize();
        Files.createDirectories(dir);
        String cm = job.name() + "-files";
        Map<String, Object> configMap = new LinkedHashMap<>();
        configMap.put("apiVersion", "v1");
        configMap.put("kind", "ConfigMap");
        configMap.put("metadata", m("name", cm, "labels", labels(job)));
        Map<String, String> data = new LinkedHashMap<>();
        List<Map<String, Object>> fileMounts = new ArrayList<>();
        int k = 0;
        for (Map.Entry<String, String> f : files.entrySet()) {
            String key = "file-" + k++;
            data.put(key, f.getValue());
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", "sweep-files");
            m.put("mountPath", WORK + "/" + f.getKey());
            m.put("subPath", key);
            m.put("readOnly", true);
            fileMounts.add(m);
        }
        configMap.put("data", data);

        Path sweepJob = dir.resolve("sweep-job.yaml"), collectJob = dir.resolve("collect-job.yaml");
        List<String> shardCmd = new ArrayList<>(List.of("disco", "sweep"));
        shardCmd.addAll(job.sweepArgs());
        shardCmd.addAll(List.of("--shard", "auto"));
        List<String> collectCmd = new ArrayList<>(List.of("disco", "sweep"));
        collectCmd.addAll(job.sweepArgs());
        collectCmd.add("--collect");

        Map<String, Object> shards = jobDoc(job, job.name(), image, claim, cm, fileMounts, outRel, shardCmd, true);
        Map<String, Object> collect = jobDoc(job, job.name() + "-collect", image, claim, cm, fileMounts, outRel, collectCmd, false);

        DumperOptions o = new DumperOptions();
        o.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        o.setDefaultScalarStyle(DumperOptions.ScalarStyle.PLAIN);
        o.setWidth(120);
        o.setSplitLines(false);
        Yaml yaml = new Yaml(o);
        String head = "# disco sweep: " + job.runs() + " runs in " + job.shards() + " shards (" + EmitSlurm.steps(job) + ").\n"
                + "# Written by `disco sweep --emit k8s`. Run: kubectl apply -f " + sweepJob + "\n"
                + "#   then, when it is complete: kubectl apply -f " + collectJob + " (names any missing run)\n"
                + "# Re-run after failures: kubectl replace --force -f " + sweepJob
                + " (finished runs are skipped: each shard continues from its state file on the volume)\n"
                + "# " + job.estimate() + "\n";
        AtomicFiles.writeString(sweepJob, head + yaml.dumpAll(List.<Object>of(configMap, shards).iterator()));
        AtomicFiles.writeString(collectJob, "# disco sweep: the contact sheets and index.html, and the completeness check"
                + " (after " + sweepJob.getFileName() + " has completed; it needs its ConfigMap " + cm + ")\n"
                + yaml.dump(collect));
        return List.of(sweepJob, collectJob);
    }

    /** A mapping in the order given (YAML output stays in a fixed, readable order). */
    private static Map<String, Object> m(Object... kv) {
        Map<String, Object> r = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) r.put((String) kv[i], kv[i + 1]);
        return r;
    }

    private static Map<String, Object> labels(EmitJob job) {
        return m("app.kubernetes.io/name", "disco-sweep", "disco/sweep", job.name());
    }

    private static Map<String, Object> jobDoc(EmitJob job, String name, String image, String claim, String cm,
                                              List<Map<String, Object>> fileMounts, String outRel, List<String> command,
                                              boolean indexed) {
        Map<String, Object> container = new LinkedHashMap<>();
        container.put("name", indexed ? "shard" : "collect");
        container.put("image", image);
        container.put("workingDir", WORK);
        container.put("command", command);
        List<Map<String, Object>> env = new ArrayList<>();
        env.add(m("name", ShardSpec.SHARDS_ENV, "value", String.valueOf(job.shards())));
        container.put("env", env);
        Map<String, Object> limits = new LinkedHashMap<>(), requests = new LinkedHashMap<>();
        if (job.memoryBytes() != null) {
            String mem = EmitJob.mib(job.memoryBytes()) + "Mi";
            requests.put("memory", mem);
            limits.put("memory", mem);
        }
        if (indexed && job.cpus() != null) requests.put("cpu", String.valueOf(job.cpus()));
        if (indexed && job.gpu()) limits.put("nvidia.com/gpu", 1);
        if (!requests.isEmpty() || !limits.isEmpty()) {
            Map<String, Object> res = new LinkedHashMap<>();
            if (!requests.isEmpty()) res.put("requests", requests);
            if (!limits.isEmpty()) res.put("limits", limits);
            container.put("resources", res);
        }
        List<Map<String, Object>> mounts = new ArrayList<>();
        mounts.add(m("name", "work", "mountPath", WORK));
        mounts.addAll(fileMounts);
        mounts.add(m("name", "out", "mountPath", WORK + "/" + outRel));
        container.put("volumeMounts", mounts);

        Map<String, Object> pod = new LinkedHashMap<>();
        pod.put("restartPolicy", "Never");
        pod.put("containers", List.of(container));
        pod.put("volumes", List.of(
                m("name", "work", "emptyDir", m()),
                m("name", "sweep-files", "configMap", m("name", cm)),
                m("name", "out", "persistentVolumeClaim", m("claimName", claim))));

        Map<String, Object> spec = new LinkedHashMap<>();
        if (indexed) {
            spec.put("completionMode", "Indexed");
            spec.put("completions", job.shards());
            spec.put("parallelism", job.shards());
            spec.put("backoffLimit", job.shards());
        } else {
            spec.put("completions", 1);
            spec.put("backoffLimit", 0);
        }
        Map<String, Object> template = new LinkedHashMap<>();
        template.put("metadata", m("labels", labels(job)));
        template.put("spec", pod);
        spec.put("template", template);

        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("apiVersion", "batch/v1");
        doc.put("kind", "Job");
        doc.put("metadata", m("name", name, "labels", labels(job)));
        doc.put("spec", spec);
        return doc;
    }
}
