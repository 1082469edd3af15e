package disco.run;

import disco.util.ExitCodes;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.sampling.GuidanceResult;
import disco.sampling.Sampler;
import disco.sampling.SamplerState;
import disco.sampling.StepOutput;
import disco.torch.Tensors;
import disco.settings.Settings;
import disco.util.DiscoException;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * DD's generation loop around the sampler: for each of {@code n_batches} batches (batch {@code i} seeded with
 * {@code seed + i}), start from noise (and the init image or perlin init), run the executed steps one at a time —
 * each inside one {@link PointerScope} — and after each step write the log line, the partials DD would write, and
 * {@code progress.png}; the final images at the end. Stops early, writing a {@link Checkpoint}, on SIGINT (after the
 * step in flight; exit 130) or at {@code --stop-at}; a non-finite sample stops the run (exit 4) keeping the last good
 * image. {@link #resume} continues a checkpoint to the identical result.
 */
public final class RunLoop {
    /**
     * One run.
     *
     * @param settings the resolved settings (seed set)
     * @param settingsJson their JSON (written beside the images, into the PNGs and into checkpoints)
     * @param out the output root: files go to {@code <out>/<batch_name>/}
     * @param stopAt stop early there with a checkpoint, or null
     */
    public record Spec(Settings settings, String settingsJson, Path out, StopAt stopAt) {
        public Spec {
            if (settings.seed() == null) throw new IllegalArgumentException("the run's seed must be resolved");
        }

        public long seed() {
            return settings.seed();
        }
    }

    /**
     * What a run left behind.
     *
     * @param outputs the run directory and names
     * @param images final images written (empty when stopped early)
     * @param checkpoint the checkpoint written when stopped early, else null
     */
    public record Result(RunOutputs outputs, List<Path> images, Path checkpoint) {
        public boolean complete() {
            return checkpoint == null;
        }
    }

    private final PrintStream err;
    private final AtomicBoolean interrupted = new AtomicBoolean();
    private boolean handleSigint = true;

    public RunLoop(PrintStream err) {
        this.err = err;
    }

    /** Whether to install a SIGINT handler for the duration of the run (tests may drive {@link #interrupt()}). */
    public RunLoop handleSigint(boolean on) {
        this.handleSigint = on;
        return this;
    }

    /** Asks the run to stop after the step in flight, as SIGINT does. */
    public void interrupt() {
        interrupted.set(true);
    }

    /** Runs from the start; output files are numbered as DD numbers them (next free batch number). */
    public Result run(Spec spec, Engine engine) {
        Settings s = spec.settings();
        float[] init = initImage(s); // read (and fail on a bad file) before anything is written
        String rw = rangeScaleWarning(s);
        if (rw != null) err.println("disco: warning: " + rw);
        RunOutputs outs = RunOutputs.create(spec.out(), batchName(s), s.batchSize(), spec.settingsJson());
        RunWriter w = new RunWriter(outs, s, StepPlan.of(s), engine.options()).warnings(m -> err.println("disco: warning: " + m));
        w.writeSettings();
        return drive(spec, engine, w, 0, null, init);
    }

    /** Continues a checkpoint written by {@link #run} or a previous resume; {@code stopAt} may stop it again. */
    public Result resume(Checkpoint c, Spec spec, Engine engine) {
        Settings s = spec.settings();
        float[] init = c.batch() + 1 < s.nBatches() ? initImage(s) : null;
        RunOutputs outs = new RunOutputs(c.runDir(), c.batchName(), c.batchNum(), s.batchSize(), spec.settingsJson());
        RunWriter w = new RunWriter(outs, s, StepPlan.of(s), engine.options()).warnings(m -> err.println("disco: warning: " + m));
        w.beginBatch(c.batch(), c.nextStep());
        return drive(spec, engine, w, c.batch(), c, init);
    }

    /**
     * The warning a run gives (once, when it starts) for a {@code range_scale} that is non-zero at some schedule
     * index, or null: in DD it does not change the image. DD's {@code cond_fn} takes {@code range_loss} of the
     * denoiser's prediction ({@code out['pred_xstart']}, or the secondary model's output) but differentiates the loss
     * with respect to {@code x_in}, which is computed from that prediction, so the range term's gradient never
     * reaches {@code x_in}. The engine does the same.
     */
    public static String rangeScaleWarning(Settings s) {
        disco.settings.Schedule r = s.schedule(disco.settings.Scheduled.RANGE_SCALE);
        boolean nonZero = false;
        for (int i = 0; i < 1000 && !nonZero; i++) nonZero = r.number(i) != 0;
        if (!nonZero) return null;
        return "settings: range_scale is non-zero, but in DD it does not change the image: cond_fn takes the range"
                + " loss of the denoiser's prediction and differentiates with respect to x_in, which is computed from"
                + " it, so the range term adds nothing to the gradient; kept as DD does it";
    }

    static String batchName(Settings s) {
        return s.batchName() == null || s.batchName().isBlank() ? "disco" : s.batchName();
    }

    /** The init image in model space ([3, H, W]), or null when there is none or perlin_init replaces it. */
    static float[] initImage(Settings s) {
        if (s.perlinInit()) return null;
        if (!hasInitImage(s)) return null;
        return InitImages.fromFile(Path.of(s.initImage()), s.width(), s.height());
    }

    /** Whether {@code init_image} names a file (null, blank and DD's "none" spellings do not). */
    static boolean hasInitImage(Settings s) {
        String f = s.initImage();
        return !(f == null || f.isBlank() || f.equals("none") || f.equals("None") || f.equals("NONE"));
    }

    /** Whether the run has DD's {@code init}: an init image or perlin init. */
    public static boolean hasInit(Settings s) {
        return s.perlinInit() || hasInitImage(s);
    }

    private Result drive(Spec spec, Engine engine, RunWriter w, int firstBatch, Checkpoint from, float[] initImage) {
        Settings s = spec.settings();
        StepPlan plan = StepPlan.of(s);
        RunOutputs outs = w.outputs();
        int stepsRun = s.steps() - s.skipSteps();
        int stopAfter = spec.stopAt() == null ? Integer.MAX_VALUE : spec.stopAt().stepsFor(stepsRun);
        List<Path> finals = new ArrayList<>();
        Object previousHandler = handleSigint ? Sigint.install(interrupted) : null;
        try {
            for (int i = firstBatch; i < s.nBatches(); i++) {
                long batchSeed = spec.seed() + i;
                Sampler sampler = engine.sampler(i, batchSeed);
                if (sampler.stepsToRun() != stepsRun) {
                    throw new IllegalStateException("engine sampler runs " + sampler.stepsToRun() + " steps, settings say " + stepsRun);
                }
                SamplerState state;
                if (from != null && i == from.batch()) {
                    state = RunSteps.fromArrays(from.tensors(), from.ints(), engine);
                } else {
                    state = RunSteps.start(s, engine, sampler, batchSeed, initImage);
                }
                if (interrupted.get()) {
                    // Ctrl-C came during the previous batch's last step: stop before this batch's first step
                    Path ck;
                    try {
                        ck = w.checkpoint(i, state, spec.settingsJson(), spec.seed(), "interrupt");
                    } finally {
                        state.close();
                    }
                    throw new DiscoException(ExitCodes.INTERRUPTED, "interrupted before batch " + i
                            + "; checkpoint written: " + ck + " (continue with: disco resume " + disco.util.Shell.quote(ck.toString()) + ")");
                }
                Path ckpt = runBatch(spec, s, plan, w, engine, sampler, state, i, stopAfter, finals);
                if (ckpt != null) return new Result(outs, List.of(), ckpt);
            }
        } finally {
            if (handleSigint) Sigint.restore(previousHandler);
        }
        return new Result(outs, finals, null);
    }

    /** Runs one batch from {@code state} (closed here); returns the checkpoint path when it stopped early. */
    private Path runBatch(Spec spec, Settings s, StepPlan plan, RunWriter w, Engine engine, Sampler sampler,
                          SamplerState state, int i, int stopAfter, List<Path> finals) {
        int stepsRun = sampler.stepsToRun();
        Progress progress = new Progress(err, s.nBatches(), stepsRun);
        List<RgbImage> lastGood = null;
        int lastGoodStep = -1;
        w.beginBatch(i, state.stepsDone());
        try {
            while (!sampler.done(state)) {
                int j = state.stepsDone();
                long t0 = System.nanoTime();
                List<RgbImage> images;
                X0Stats x0;
                StepOutput out;
                engine.beforeStep(j);
                try (PointerScope scope = new PointerScope()) {
                    out = sampler.step(state);
                    try {
                        float[] v = Tensors.toFloats(out.predXstart());
                        images = toImages(v, s.width(), s.height());
                        x0 = X0Stats.of(v, s.width(), s.height());
                    } finally {
                        out.close();
                    }
                }
                SamplerState next = out.state();
                state.close();
                state = next;
                double ms = (System.nanoTime() - t0) / 1e6;
                PlanStep ps = plan.step(j);
                progress.step(i, j, ps.active(), ms);
                for (GuidanceResult g : out.guidance()) {
                    if (g.nanGuarded()) err.println("disco: warning: batch " + i + " step " + j + " (t=" + ps.t()
                            + "): NaN in the CLIP gradient (models " + ps.active() + "); DD's guard zeroed it");
                }
                if (!out.finite()) {
                    progress.end();
                    String kept = lastGood == null ? "no partial image was made before it"
                            : "last good image (step " + lastGoodStep + "): " + w.lastGood(i, lastGoodStep, lastGood);
                    throw new DiscoException(ExitCodes.RUN_DIVERGED, "batch " + i + " step " + j + " (t=" + ps.t()
                            + ", models " + ps.active() + "): the sample became non-finite (NaN/Inf); " + kept);
                }
                lastGood = images;
                lastGoodStep = j;
                finals.addAll(w.step(i, j, out, images, ms, x0));
                if (j == stepsRun - 1) {
                    progress.end();
                    break;
                }
                boolean stopHere = j + 1 >= stopAfter;
                if (interrupted.get() || stopHere) {
                    progress.end();
                    String reason = interrupted.get() ? "interrupt" : "stop-at " + spec.stopAt();
                    Path ck = stopHere ? w.stop(i, j, images, state, spec.settingsJson(), spec.seed(), reason)
                            : w.checkpoint(i, state, spec.settingsJson(), spec.seed(), reason);
                    if (interrupted.get()) {
                        throw new DiscoException(ExitCodes.INTERRUPTED, "interrupted after batch " + i + " step " + j
                                + "; checkpoint written: " + ck + " (continue with: disco resume " + disco.util.Shell.quote(ck.toString()) + ")");
                    }
                    err.println("disco: stopped after " + (j + 1) + " of " + stepsRun + " steps; checkpoint: " + ck);
                    return ck;
                }
            }
        } finally {
            state.close();
        }
        return null;
    }

    static List<RgbImage> toImages(Tensor predXstart, int width, int height) {
        return toImages(Tensors.toFloats(predXstart), width, height);
    }

    static List<RgbImage> toImages(float[] v, int width, int height) {
        int per = 3 * width * height;
        List<RgbImage> out = new ArrayList<>();
        for (int k = 0; k * per < v.length; k++) out.add(RgbImage.fromModelSpace(v, k * per, width, height));
        return out;
    }


    /** The stderr progress bar: batch, step, bar, active models, s/step. */
    static final class Progress {
        private final PrintStream err;
        private final int batches;
        private final int steps;
        private final boolean tty = System.console() != null;
        private boolean open;

        Progress(PrintStream err, int batches, int steps) {
            this.err = err;
            this.batches = batches;
            this.steps = steps;
        }

        void step(int batch, int j, List<String> active, double ms) {
            int width = 20;
            int done = (int) Math.round((double) (j + 1) / steps * width);
            String bar = "#".repeat(done) + " ".repeat(width - done);
            String line = String.format("batch %d/%d step %d/%d [%s] %s %.2f s/step", batch + 1, batches, j + 1, steps,
                    bar, active.isEmpty() ? "(no CLIP)" : String.join(",", active), ms / 1000.0);
            if (tty) {
                err.print("\r" + line);
                open = true;
            } else {
                err.println(line);
            }
            err.flush();
        }

        void end() {
            if (open) {
                err.println();
                open = false;
            }
        }
    }
}
