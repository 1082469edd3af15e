package disco.bench;

import disco.guidance.CutoutStage;
import disco.guidance.ImageEncoder;
import disco.guidance.LossKernels;
import disco.plan.PlanStep;
import disco.sampling.Denoiser;
import disco.sampling.Guidance;
import disco.sampling.GuidanceCall;
import disco.sampling.GuidanceResult;
import disco.sampling.SpacedAlphas;
import disco.util.RandomStream;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.function.Supplier;

/**
 * Timing wrappers around the stages of a guided step, charging their wall time and counts to the current
 * {@link StepStats}. On CUDA each timed region ends with a device synchronisation so that asynchronous kernels are
 * charged to the stage that launched them (the bench's cost; a run does not synchronise).
 */
final class Instrument implements disco.run.Pipeline.Hooks {
    private final boolean cuda;
    private StepStats current = new StepStats();

    Instrument(Device device) {
        this.cuda = device.is_cuda();
    }

    void begin(StepStats s) {
        current = s;
    }

    void sync() {
        if (cuda) torch.cuda_synchronize();
    }

    <T> T time(String stage, Supplier<T> body) {
        sync();
        long t0 = System.nanoTime();
        T r = body.get();
        sync();
        current.addTime(stage, System.nanoTime() - t0);
        return r;
    }

    void count(String what, long n) {
        current.count(what, n);
    }

    /** A denoiser whose evaluations and pull-backs are timed as {@code <name>.forward} / {@code <name>.backward}. */
    @Override
    public Denoiser denoiser(String name, Denoiser d) {
        return new Denoiser() {
            @Override
            public Evaluation evaluate(Tensor x, int index, boolean withGrad) {
                count(name + "_forwards", 1);
                if (withGrad && name.equals("unet")) count("unet_forwards_with_grad", 1);
                Evaluation ev = time(name + ".forward", () -> d.evaluate(x, index, withGrad));
                return new Evaluation() {
                    public int index() {
                        return ev.index();
                    }

                    public Tensor x() {
                        return ev.x();
                    }

                    public Tensor eps() {
                        return ev.eps();
                    }

                    public Tensor predXstart() {
                        return ev.predXstart();
                    }

                    public boolean hasGrad() {
                        return ev.hasGrad();
                    }

                    public Tensor backwardPredXstart(Tensor g) {
                        count(name + "_backwards", 1);
                        return time(name + ".backward", () -> ev.backwardPredXstart(g));
                    }

                    public void close() {
                        ev.close();
                    }
                };
            }

            @Override
            public SpacedAlphas alphas() {
                return d.alphas();
            }
        };
    }

    /** A CLIP image encoder timed as {@code clip.<name>.forward} / {@code clip.<name>.backward}. */
    @Override
    public ImageEncoder encoder(String name, ImageEncoder e) {
        return new ImageEncoder() {
            @Override
            public int inputResolution() {
                return e.inputResolution();
            }

            @Override
            public Encoded encode(Tensor cuts) {
                count("clip_calls", 1);
                count("clip_images", cuts.size(0));
                count("clip_images." + name, cuts.size(0)); // per model: what a time estimate scales with
                Encoded enc = time("clip." + name + ".forward", () -> e.encode(cuts));
                return new Encoded() {
                    public Tensor embeddings() {
                        return enc.embeddings();
                    }

                    public Tensor backward(Tensor g) {
                        return time("clip." + name + ".backward", () -> enc.backward(g));
                    }
                };
            }
        };
    }

    /** A cutout stage whose forward and adjoint are timed as {@code cutouts}. */
    @Override
    public CutoutStage cutouts(CutoutStage c) {
        return (image01, step, cutSize, random) -> {
            CutoutStage.Cuts cuts = time("cutouts", () -> c.make(image01, step, cutSize, random));
            return new CutoutStage.Cuts() {
                public Tensor images() {
                    return cuts.images();
                }

                public int cutsPerImage() {
                    return cuts.cutsPerImage();
                }

                public Tensor backward(Tensor g) {
                    return time("cutouts", () -> cuts.backward(g));
                }
            };
        };
    }

    /** Loss kernels (the gradient stage) timed as {@code gradient}. */
    @Override
    public LossKernels losses(LossKernels k) {
        return new LossKernels() {
            public ClipTerm clipLoss(Tensor emb, Tensor target, Tensor weights, long n) {
                return time("gradient", () -> k.clipLoss(emb, target, weights, n));
            }

            public XInGrad xInGrad(Tensor xIn, Tensor pred, java.util.List<Tensor> modelGrads, double clipGuidanceScale,
                                   int cutnBatches, double tvScale, double satScale, Tensor initGrad) {
                return time("gradient", () -> k.xInGrad(xIn, pred, modelGrads, clipGuidanceScale, cutnBatches, tvScale,
                        satScale, initGrad));
            }

            public Clamped rmsClamp(Tensor g, double clampMax) {
                return time("gradient", () -> k.rmsClamp(g, clampMax));
            }
        };
    }

}
