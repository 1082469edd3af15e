package disco.run;

import disco.plan.StepPlan;
import disco.sampling.SamplerState;
import disco.sampling.StepOutput;
import disco.settings.Settings;
import disco.util.ExitCodes;
import disco.util.DiscoException;
import disco.util.Npy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The files of one run, one copy for {@code disco run}/{@code resume} and the sweep: the settings file, the log line
 * of every step (the first line a process writes for a batch also names the options it ran with), DD's partials,
 * {@code progress.png}, the final images, the partial and checkpoint of a run stopped early, and the last good
 * image of a run that diverged. Checkpoints are named per batch ({@code _checkpoint.zip} for batch 0,
 * {@code _checkpoint-<i>.zip} after); a batch's checkpoint is removed when its final images are written.
 * {@code progress.gif} ({@link ProgressGif}) is written from the batch's partials when it finishes or stops.
 */
public final class RunWriter {
    private final RunOutputs outs;
    private final SaveSchedule saves;
    private final StepPlan plan;
    private final Map<String, Object> options;
    private final int gifFps, batchSize;
    private final double gifSizeRatio;
    private StepLog log;
    private int logBatch = -1;
    private boolean optionsLogged;
    private java.util.function.Consumer<String> warn = w -> {};
    // the collapse watch of the batch being logged: the condition seen since streakStart, and whether it was reported
    private String streakKind;
    private int streakStart = -1, streakLast = -1;
    private boolean collapseReported;

    /** @param options what the log records the run ran with (the pipeline's options), or empty */
    public RunWriter(RunOutputs outs, Settings s, StepPlan plan, Map<String, Object> options) {
        this.outs = outs.partialsInSubfolder(s.intermediatesInSubfolder());
        this.saves = saves(s);
        this.plan = plan;
        this.options = options;
        this.gifFps = s.gifFps();
        this.gifSizeRatio = s.gifSizeRatio();
        this.batchSize = s.batchSize();
    }

    /** The run's {@code progress.gif} (DiscoArt's gif_fps, gif_size_ratio). */
    public Path progressGif() {
        return outs.dir().resolve("progress.gif");
    }

    /** Rewrites {@code progress.gif} from batch {@code b}'s partials and {@code last} (or null); not when gif_fps is 0. */
    private void writeGif(int b, List<RgbImage> last) {
        if (gifFps <= 0) return;
        List<RgbImage> frames = ProgressGif.frames(outs, b, batchSize, last);
        if (frames.isEmpty()) return;
        try {
            ProgressGif.write(progressGif(), frames, gifFps, gifSizeRatio);
        } catch (IOException e) {
            throw io(progressGif(), e);
        }
    }

    /** DD's save schedule of the settings: partials by count or by list, and the progress image's rate. */
    public static SaveSchedule saves(Settings s) {
        SaveSchedule saves = s.intermediateSaveSteps().isEmpty()
                ? SaveSchedule.ofCount(s.steps(), s.skipSteps(), s.intermediateSaves(), s.saveRate())
                : SaveSchedule.ofList(s.steps(), s.skipSteps(), s.intermediateSaveSteps(), s.saveRate());
        return s.displayRate() == null ? saves : saves.withDisplayRate(s.displayRate());
    }

    /** Where warnings about the run (a collapsed image) go, e.g. stderr. */
    public RunWriter warnings(java.util.function.Consumer<String> w) {
        this.warn = w;
        return this;
    }

    public RunOutputs outputs() {
        return outs;
    }

    public SaveSchedule saveSchedule() {
        return saves;
    }

    /** Writes the settings file (creating the run directory). */
    public void writeSettings() {
        try {
            Files.createDirectories(outs.dir());
            outs.writeSettings();
        } catch (IOException e) {
            throw io(outs.settingsFile(), e);
        }
    }

    /** Starts (or continues, from {@code fromStep}) batch {@code b}'s log: lines of later steps are dropped. */
    public void beginBatch(int b, int fromStep) {
        if (logBatch == b) return;
        try {
            log = StepLog.resume(outs.logFile(), b, fromStep);
        } catch (IOException e) {
            throw io(outs.logFile(), e);
        }
        logBatch = b;
        optionsLogged = false;
        streakKind = null;
        streakStart = streakLast = -1;
        collapseReported = false;
    }

    /** Whether step {@code j} writes any image (the caller converts the prediction only then). */
    public boolean needsImages(int j) {
        return j == plan.size() - 1 || !saves.partialsAt(j).isEmpty() || saves.progressAt(j);
    }

    /**
     * After executed step {@code j} of batch {@code b}: its log line, the partials and progress image due there, and
     * at the last step the final images (returned; empty before), removing the batch's checkpoint.
     */
    public List<Path> step(int b, int j, StepOutput o, List<RgbImage> images, double ms) {
        return step(b, j, o, images, ms, null);
    }

    /**
     * As {@link #step(int, int, StepOutput, List, double)}, with the step's {@link X0Stats} (or null): logged as
     * {@code x0}, with {@code collapse} at steps whose image has collapsed; a collapse that holds for
     * {@value X0Stats#PERSIST} consecutive steps (or to the last one) is reported once per batch, with the step it
     * began and the models active there.
     */
    public List<Path> step(int b, int j, StepOutput o, List<RgbImage> images, double ms, X0Stats x0) {
        beginBatch(b, j);
        try {
            Map<String, Object> extra = new java.util.LinkedHashMap<>();
            if (!optionsLogged && !options.isEmpty()) extra.put("options", options);
            if (x0 != null) {
                extra.put("x0", x0.toJson());
                String kind = x0.kind();
                if (kind != null) extra.put("collapse", kind);
                watch(b, j, kind, x0);
            }
            log.append(RunSteps.logEntry(b, j, o, plan, ms), extra);
            optionsLogged = true;
        } catch (IOException e) {
            throw io(log.file(), e);
        }
        for (SaveSchedule.Partial p : saves.partialsAt(j)) {
            for (int k = 0; k < images.size(); k++) write(outs.partialImage(b, p, k), images.get(k), j);
        }
        if (saves.progressAt(j)) {
            try {
                outs.writeProgress(images);
            } catch (IOException e) {
                throw io(outs.progressImage(), e);
            }
        }
        List<Path> finals = new ArrayList<>();
        if (j == plan.size() - 1) {
            for (int k = 0; k < images.size(); k++) {
                Path f = outs.finalImage(b, k);
                write(f, images.get(k), j);
                finals.add(f);
            }
            writeGif(b, images);
            try {
                Files.deleteIfExists(checkpointFile(b));
            } catch (IOException e) {
                throw io(checkpointFile(b), e);
            }
        }
        return finals;
    }

    private void watch(int b, int j, String kind, X0Stats x0) {
        if (kind == null || !kind.equals(streakKind) || streakLast != j - 1) {
            streakKind = kind;
            streakStart = kind == null ? -1 : j;
        }
        streakLast = j;
        if (kind == null || collapseReported) return;
        if (j - streakStart + 1 >= X0Stats.PERSIST || j == plan.size() - 1) {
            collapseReported = true;
            disco.plan.PlanStep at = plan.step(streakStart);
            warn.accept("batch " + b + " step " + streakStart + " (t=" + at.t() + ", models "
                    + (at.active().isEmpty() ? "none" : String.join(", ", at.active())) + "): the x0 prediction collapsed to "
                    + kind + " and stayed so through step " + j + " (" + x0 + ")");
        }
    }

    /**
     * A run stopped after step {@code j} ({@code --stop-at}, an interrupt): the image there as a partial (DD's list
     * naming) unless one was saved at that step, and the checkpoint to continue from.
     */
    public Path stop(int b, int j, List<RgbImage> images, SamplerState state, String settingsJson, long seed,
                     String reason) {
        return stop(b, j, images, state, null, settingsJson, seed, reason);
    }

    /** As {@link #stop(int, int, List, SamplerState, String, long, String)} with the state's arrays made already (or null). */
    public Path stop(int b, int j, List<RgbImage> images, SamplerState state, Map<String, Npy.Array> arrays,
                     String settingsJson, long seed, String reason) {
        if (saves.partialsAt(j).isEmpty()) {
            for (int k = 0; k < images.size(); k++) {
                write(outs.partialImage(b, new SaveSchedule.Partial(String.format("%03d", j)), k), images.get(k), j);
            }
        }
        writeGif(b, null);
        return checkpoint(b, state, arrays, settingsJson, seed, reason);
    }

    /** Writes batch {@code b}'s checkpoint of {@code state}. */
    public Path checkpoint(int b, SamplerState state, String settingsJson, long seed, String reason) {
        return checkpoint(b, state, null, settingsJson, seed, reason);
    }

    private Path checkpoint(int b, SamplerState state, Map<String, Npy.Array> arrays, String settingsJson, long seed,
                            String reason) {
        Map<String, Npy.Array> tensors = arrays != null ? arrays : RunSteps.toArrays(state);
        Checkpoint c = new Checkpoint(settingsJson, outs.dir(), outs.batchName(), outs.batchNum(), b, state.stepsDone(),
                plan.size(), seed, reason, tensors, state.ints());
        Path f = checkpointFile(b);
        try {
            c.write(f);
        } catch (IOException e) {
            throw io(f, e);
        }
        return f;
    }

    /** The last finite image of a run that diverged, as the partial of its step; returns its first file. */
    public Path lastGood(int b, int step, List<RgbImage> images) {
        Path first = null;
        for (int k = 0; k < images.size(); k++) {
            Path f = outs.partialImage(b, new SaveSchedule.Partial(String.format("%03d", step)), k);
            write(f, images.get(k), step);
            if (first == null) first = f;
        }
        return first;
    }

    /** Batch {@code b}'s checkpoint: {@code <name>(<n>)_checkpoint.zip}, {@code _checkpoint-<b>.zip} after batch 0. */
    public Path checkpointFile(int b) {
        Path f = outs.checkpointFile();
        if (b == 0) return f;
        String n = f.getFileName().toString();
        return f.resolveSibling(n.substring(0, n.length() - 4) + "-" + b + ".zip");
    }

    private void write(Path f, RgbImage img, int step) {
        try {
            outs.writeImage(f, img, Map.of("step", Integer.toString(step)));
        } catch (IOException e) {
            throw io(f, e);
        }
    }

    static DiscoException io(Path f, IOException e) {
        return new DiscoException(ExitCodes.IO_ERROR, f + ": cannot write (" + e.getMessage() + ")", e);
    }
}
