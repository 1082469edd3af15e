package disco.run;

import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.sampling.GuidanceResult;
import disco.sampling.Sampler;
import disco.sampling.SamplerState;
import disco.sampling.StepOutput;
import disco.torch.Tensors;
import disco.settings.Settings;
import disco.util.Npy;
import disco.util.RandomStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pieces of {@link RunLoop} that drive a run one step at a time, for callers that schedule the steps
 * themselves (the sweep executes shared trajectory prefixes once): the start state, the images of a step, its log
 * entry and a checkpoint. {@link RunLoop} itself starts, logs, checkpoints and restores through these, so
 * {@code disco run} and the sweep cannot drift apart.
 */
public final class RunSteps {
    private RunSteps() {}

    /** The init image in model space ([3, H, W]), or null (see {@link RunLoop}). Reads the file: call before writing. */
    public static float[] initImage(Settings s) {
        return RunLoop.initImage(s);
    }

    /** x_T of batch {@code batchSeed}'s trajectory as {@link RunLoop} starts it: noise, init image or perlin init. */
    public static SamplerState start(Settings s, Engine engine, Sampler sampler, long batchSeed, float[] initImage) {
        try (PointerScope scope = new PointerScope()) {
            long[] shape = {s.batchSize(), 3, s.height(), s.width()};
            float[] init = initImage;
            if (s.perlinInit()) {
                init = InitImages.perlin(InitImages.PerlinMode.parse(s.perlinMode(), "settings"), s.width(), s.height(),
                        RandomStream.of(batchSeed, 0, -1, "", "perlin"));
            }
            Tensor initT = null;
            if (init != null) {
                float[] batch = new float[init.length * s.batchSize()];
                for (int k = 0; k < s.batchSize(); k++) System.arraycopy(init, 0, batch, k * init.length, init.length);
                initT = engine.toDevice(Tensors.fromFloats(batch, shape));
            }
            return sampler.start(shape, initT);
        }
    }

    /** The step's images (pred_xstart in [0, 255]), one per batch element. */
    public static List<RgbImage> images(StepOutput out, Settings s) {
        return RunLoop.toImages(out.predXstart(), s.width(), s.height());
    }

    /** The x0 statistics of a step (a collapse watch), from its {@code pred_xstart}. */
    public static X0Stats x0Stats(StepOutput out, Settings s) {
        return X0Stats.of(Tensors.toFloats(out.predXstart()), s.width(), s.height());
    }

    /** The step's images from pred_xstart's values already copied to the CPU. */
    public static List<RgbImage> images(float[] predXstart, Settings s) {
        return RunLoop.toImages(predXstart, s.width(), s.height());
    }

    /** The log line {@code disco run} writes for a step. */
    public static StepLog.Entry logEntry(int batch, int j, StepOutput out, StepPlan plan, double ms) {
        PlanStep ps = plan.step(j);
        Map<String, List<Double>> losses = new LinkedHashMap<>();
        for (String m : ps.active()) losses.put(m, new ArrayList<>());
        double before = Double.NaN, after = Double.NaN;
        boolean guarded = false;
        for (GuidanceResult g : out.guidance()) {
            for (GuidanceResult.LossValue lv : g.losses()) {
                losses.computeIfAbsent(lv.model(), k -> new ArrayList<>()).add(lv.value());
            }
            guarded |= g.nanGuarded();
        }
        if (!out.guidance().isEmpty()) {
            before = out.guidance().get(0).rmsBefore();
            after = out.guidance().get(0).rmsAfter();
        }
        return new StepLog.Entry(batch, j, out.index(), plan.schedule().scaledTimestep(out.index()), ps.active(), losses,
                before, after, guarded, ms);
    }

    /** A copy of a state (tensors cloned), to fork a trajectory. */
    public static SamplerState copy(SamplerState s) {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> ts = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : s.tensors().entrySet()) ts.put(e.getKey(), e.getValue().clone());
            return SamplerState.of(ts, s.ints());
        }
    }

    /** A state as CPU float32 arrays (a checkpoint's or a spilled fork's tensors). */
    public static Map<String, Npy.Array> toArrays(SamplerState state) {
        Map<String, Npy.Array> tensors = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            for (Map.Entry<String, Tensor> e : state.tensors().entrySet()) {
                float[] v = Tensors.toFloats(e.getValue());
                tensors.put(e.getKey(), Npy.parse(Npy.encodeFloats(v, Tensors.shape(e.getValue())), e.getKey()));
            }
        }
        return tensors;
    }

    /** Rebuilds a state from arrays on the engine's device. */
    public static SamplerState fromArrays(Map<String, Npy.Array> arrays, Map<String, Long> ints, Engine engine) {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> ts = new LinkedHashMap<>();
            for (Map.Entry<String, Npy.Array> e : arrays.entrySet()) {
                ts.put(e.getKey(), engine.toDevice(Tensors.fromFloats(e.getValue().floats(), e.getValue().shape())));
            }
            return SamplerState.of(ts, ints);
        }
    }
}
