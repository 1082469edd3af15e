package disco.run;

import disco.sampling.Sampler;
import org.bytedeco.pytorch.Tensor;

/**
 * What the run loop needs from the models: a {@link Sampler} per batch (the denoiser, the guidance with its CLIP
 * models and native stages, and the noise source, all built from the settings once per run). The run loop knows no
 * network; {@code disco run} builds the real engine, tests use small analytic ones.
 *
 * <p>Seeds: batch {@code i} gets {@code batchSeed = seed + i} and must behave exactly like batch 0 of a run with
 * seed {@code seed + i} (DD's rule), so every random key of the batch derives from {@code batchSeed} alone.
 */
public interface Engine extends AutoCloseable {
    /** The sampler for batch {@code batch}, every random draw keyed from {@code batchSeed}. */
    Sampler sampler(int batch, long batchSeed);

    /** The options the engine runs with, as the run's log records them (empty: nothing to record). */
    default java.util.Map<String, Object> options() {
        return java.util.Map.of();
    }

    /** Called before executed step {@code step} of a batch (schedule-aware residency moves models here). */
    default void beforeStep(int step) {}

    /** Moves a CPU tensor (x_T, init image, a checkpoint's state) to the engine's device; identity on the CPU. */
    default Tensor toDevice(Tensor cpu) {
        return cpu;
    }

    @Override
    default void close() {}
}
