package disco.run;

import disco.util.AtomicFiles;
import disco.util.DiscoException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The files of one run in {@code <out>/<batch_name>/}, named as DD names them:
 * <ul>
 *   <li>{@code <batch_name>(<batch_num>)_<i>.png}: the final image of batch {@code i} (DD's name with
 *       {@code intermediates_in_subfolder}); with {@code batch_size > 1} DD overwrites one file per image, we keep
 *       each: {@code <batch_name>(<batch_num>)_<i>_<k>.png};</li>
 *   <li>{@code partials/<batch_name>(<batch_num>)_<i:04>-<tag>.png} ({@link SaveSchedule});</li>
 *   <li>{@code progress.png}: the current batch as a grid (DD writes the last image of the batch to {@code progress.png});</li>
 *   <li>{@code <batch_name>(<batch_num>)_settings.json}: the resolved settings (DD writes {@code _settings.txt});</li>
 *   <li>{@code <batch_name>(<batch_num>)_log.jsonl}: one JSON object per executed step ({@link StepLog});</li>
 *   <li>{@code <batch_name>(<batch_num>)_checkpoint.zip}: written on SIGINT or {@code --stop-at} ({@link Checkpoint}).</li>
 * </ul>
 * Every PNG carries the settings JSON in a tEXt chunk ({@link Png#SETTINGS_KEY}). All files are written atomically.
 */
public final class RunOutputs {
    private final Path dir;
    private final String batchName;
    private final int batchNum;
    private final int batchSize;
    private final String settingsJson;
    private final boolean partialsInSubfolder;

    public RunOutputs(Path dir, String batchName, int batchNum, int batchSize, String settingsJson) {
        this(dir, batchName, batchNum, batchSize, settingsJson, true);
    }

    private RunOutputs(Path dir, String batchName, int batchNum, int batchSize, String settingsJson,
                       boolean partialsInSubfolder) {
        this.partialsInSubfolder = partialsInSubfolder;
        this.dir = dir;
        this.batchName = batchName;
        this.batchNum = batchNum;
        this.batchSize = batchSize;
        this.settingsJson = settingsJson;
    }

    /**
     * Opens the run directory {@code <out>/<batchName>} with DD's next free batch number: the number of
     * {@code _settings} files there, increased while {@code <batch_name>(<n>)_settings.json} exists.
     */
    public static RunOutputs create(Path out, String batchName, int batchSize, String settingsJson) {
        checkBatchName(batchName);
        Path dir = out.resolve(batchName);
        int n = 0;
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*_settings.json")) {
                for (Path ignored : ds) n++;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        while (Files.exists(dir.resolve(batchName + "(" + n + ")_settings.json"))) n++;
        return new RunOutputs(dir, batchName, n, batchSize, settingsJson);
    }

    static void checkBatchName(String batchName) {
        if (batchName == null || batchName.isEmpty() || batchName.contains("/") || batchName.contains("\\")
                || batchName.equals(".") || batchName.equals("..")) {
            throw DiscoException.badInput("batch_name: expected a non-empty file name without '/', got '" + batchName + "'");
        }
    }

    public Path dir() {
        return dir;
    }

    /** DD's {@code intermediates_in_subfolder}: partials in {@code partials/} (true) or in the run directory (false). */
    public RunOutputs partialsInSubfolder(boolean on) {
        return on == partialsInSubfolder ? this : new RunOutputs(dir, batchName, batchNum, batchSize, settingsJson, on);
    }

    private Path partialsDir() {
        return partialsInSubfolder ? dir.resolve("partials") : dir;
    }

    public String batchName() {
        return batchName;
    }

    public int batchNum() {
        return batchNum;
    }

    public String settingsJson() {
        return settingsJson;
    }

    private String stem() {
        return batchName + "(" + batchNum + ")";
    }

    private String imageSuffix(int k) {
        return batchSize > 1 ? "_" + k : "";
    }

    public Path finalImage(int i, int k) {
        return dir.resolve(stem() + "_" + i + imageSuffix(k) + ".png");
    }

    public Path partialImage(int i, SaveSchedule.Partial p, int k) {
        return partialsDir().resolve(String.format("%s_%04d-%s%s.png", stem(), i, p.tag(), imageSuffix(k)));
    }

    public Path progressImage() {
        return dir.resolve("progress.png");
    }

    public Path settingsFile() {
        return dir.resolve(stem() + "_settings.json");
    }

    public Path logFile() {
        return dir.resolve(stem() + "_log.jsonl");
    }

    public Path checkpointFile() {
        return dir.resolve(stem() + "_checkpoint.zip");
    }

    public void writeSettings() throws IOException {
        AtomicFiles.writeString(settingsFile(), settingsJson.endsWith("\n") ? settingsJson : settingsJson + "\n");
    }

    /** PNG text metadata: the settings (ASCII-escaped JSON) plus the given extra entries. */
    public Map<String, String> metadata(Map<String, String> extra) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(Png.SETTINGS_KEY, asciiJson(settingsJson));
        m.put("Software", "disco");
        m.putAll(extra);
        return m;
    }

    public void writeImage(Path file, RgbImage image, Map<String, String> extra) throws IOException {
        Png.write(file, image, metadata(extra));
    }

    public void writeProgress(List<RgbImage> batch) throws IOException {
        int cols = (int) Math.ceil(Math.sqrt(batch.size()));
        Png.write(progressImage(), RgbImage.grid(batch, cols), metadata(Map.of()));
    }

    /** Escapes every non-ASCII character of a JSON text as {@code \\uXXXX} (valid inside JSON strings), for tEXt. */
    public static String asciiJson(String json) {
        StringBuilder sb = new StringBuilder(json.length());
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c < 0x80) sb.append(c);
            else sb.append(String.format("\\u%04x", (int) c));
        }
        return sb.toString();
    }

    private static final Pattern PARTIAL = Pattern.compile(".*_(\\d{4})-(\\d{3}|\\d{2,3}%)(_\\d+)?\\.png");

    /** Partial files of this run, sorted by name (for tests and the sweep's strips). */
    public List<Path> partials() {
        List<Path> out = new ArrayList<>();
        Path p = partialsDir();
        if (!Files.isDirectory(p)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(p, stem().replace("[", "\\[").replace("{", "\\{") + "_*.png")) {
            for (Path f : ds) {
                Matcher m = PARTIAL.matcher(f.getFileName().toString());
                if (m.matches()) out.add(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.sort(null);
        return out;
    }
}
