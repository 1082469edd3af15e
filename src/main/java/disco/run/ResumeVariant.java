package disco.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.util.AtomicFiles;
import disco.util.DiscoException;
import disco.util.ExitCodes;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A run finished by {@code disco resume --set …} with changed settings is a <em>variant</em> of the run: it gets the
 * next free batch number in the run's directory ({@code <batch_name>(<n>)}, as DD numbers a new run) and its own
 * files — the changed settings, a log that starts with the original's lines up to the checkpoint's step, partials,
 * final images, and {@code <batch_name>(<n>)_variant.json} saying what it is a variant of, from which step, with which
 * changes. The original's files and checkpoint are never touched, so the original can still be finished (e.g. by the
 * sweep it belongs to) and the variant survives that.
 */
public final class ResumeVariant {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What a variant is.
     *
     * @param batchNum  the variant's batch number in the run directory
     * @param of        the stem it continues, e.g. {@code s1=400(0)}
     * @param fromStep  the first step it ran with the changed settings
     * @param changes   the {@code KEY=VALUE} changes
     */
    public record Info(int batchNum, String of, int fromStep, List<String> changes) {}

    private ResumeVariant() {}

    /** The next free batch number in {@code dir} for {@code batchName} (as {@link RunOutputs#create} numbers). */
    public static int nextBatchNum(Path dir, String batchName) {
        int n = 0;
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*_settings.json")) {
                for (Path ignored : ds) n++;
            } catch (IOException e) {
                throw new DiscoException(ExitCodes.IO_ERROR, dir + ": cannot list (" + e.getMessage() + ")", e);
            }
        }
        while (Files.exists(dir.resolve(batchName + "(" + n + ")_settings.json"))) n++;
        return n;
    }

    public static Path variantFile(Path dir, String batchName, int batchNum) {
        return dir.resolve(batchName + "(" + batchNum + ")_variant.json");
    }

    /**
     * Creates variant files for continuing {@code c} (in {@code c.runDir()}) with {@code changed} settings: the
     * settings file, the log up to the checkpoint's step, the variant record. Returns the checkpoint addressed to the
     * variant's batch number.
     */
    public static Checkpoint create(Checkpoint c, ResolvedSettings changed, List<String> changes) {
        Path dir = c.runDir();
        int n = nextBatchNum(dir, c.batchName());
        String ofStem = c.batchName() + "(" + c.batchNum() + ")";
        RunOutputs orig = new RunOutputs(dir, c.batchName(), c.batchNum(), changed.settings().batchSize(), "");
        RunOutputs v = new RunOutputs(dir, c.batchName(), n, changed.settings().batchSize(), changed.json());
        try {
            v.writeSettings();
            StepLog.copyPrefix(orig.logFile(), v.logFile(), c.batch(), c.nextStep());
            ObjectNode o = JSON.createObjectNode();
            o.put("kind", "disco-resume-variant");
            o.put("of", ofStem);
            o.put("batch", c.batch());
            o.put("from_step", c.nextStep());
            o.putArray("changes").addAll(changes.stream().map(JSON.getNodeFactory()::textNode).toList());
            AtomicFiles.writeString(variantFile(dir, c.batchName(), n), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
        } catch (IOException e) {
            throw new DiscoException(ExitCodes.IO_ERROR, dir + ": cannot write the variant's files (" + e.getMessage() + ")", e);
        }
        return new Checkpoint(c.settingsJson(), dir, c.batchName(), n, c.batch(), c.nextStep(), c.stepsRun(), c.seed(),
                c.reason(), c.tensors(), c.ints());
    }

    private static final Pattern VARIANT = Pattern.compile("(.*)\\((\\d+)\\)_variant\\.json");

    /** The variants recorded in a run directory for {@code batchName}, by batch number. */
    public static List<Info> list(Path dir, String batchName) {
        List<Info> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*_variant.json")) {
            for (Path f : ds) {
                Matcher m = VARIANT.matcher(f.getFileName().toString());
                if (!m.matches() || !m.group(1).equals(batchName)) continue;
                try {
                    JsonNode n = JSON.readTree(Files.readString(f));
                    List<String> ch = new ArrayList<>();
                    n.path("changes").forEach(x -> ch.add(x.asText()));
                    out.add(new Info(Integer.parseInt(m.group(2)), n.path("of").asText(), n.path("from_step").asInt(), ch));
                } catch (IOException | RuntimeException e) {
                    // an unreadable record is shown as nothing rather than failing the report
                }
            }
        } catch (IOException e) {
            return out;
        }
        out.sort(java.util.Comparator.comparingInt(Info::batchNum));
        return out;
    }

    /**
     * Refuses to continue a checkpoint whose batch already has its final images (the run finished after the
     * checkpoint was written: it is stale), unless {@code force}.
     */
    public static void checkNotFinished(Path file, Checkpoint c, int batchSize, boolean force) {
        if (force) return;
        RunOutputs o = new RunOutputs(c.runDir(), c.batchName(), c.batchNum(), batchSize, "");
        Path f = o.finalImage(c.batch(), 0);
        if (Files.exists(f)) {
            throw DiscoException.badInput(file + ": stale checkpoint: its run has finished (" + f + " exists); resume"
                    + " with --set KEY=VALUE to make a variant, or --force to recompute and overwrite it");
        }
    }
}
