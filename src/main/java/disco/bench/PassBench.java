package disco.bench;

import disco.torch.Tensors;
import disco.models.clip.ClipModel;
import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetModel;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code disco bench passes}: each network of a guided step alone, forward without grad, forward with grad and the
 * backward to its input, at the shapes a step feeds it (the UNet and the secondary model on [1, 3, H, W], each CLIP
 * image tower on [cuts, 3, R, R]). The same passes, shapes and repetitions as {@code bench/passes.py} times with
 * PyTorch on upstream code, so that the two can be compared pass by pass on one machine.
 */
public final class PassBench {
    /** One pass: median and all repetitions in ms, and the process CPU ms of the median repetition's kind. */
    public record Pass(String name, double medianMs, double medianCpuMs, double[] ms) {}

    private final int reps;
    private final Device device;

    public PassBench(int reps, Device device) {
        if (reps < 1) throw new IllegalArgumentException("reps must be >= 1");
        this.reps = reps;
        this.device = device;
    }

    /**
     * UNet passes at {@code [1, 3, h, w]} and model time {@code t}; the forward with grad and the backward are the
     * guided step's ({@link UNetModel#traceLean} and its pull-back).
     */
    public List<Pass> unet(UNetModel unet, int h, int w, double t, Function<Tensor, Tensor> layout) {
        Tensor ts = scalarVector(t);
        return passes("unet", new long[] {1, 3, h, w}, x -> unet.forward(layout.apply(x), ts),
                x -> unet.traceLean(layout.apply(x), ts, f -> f), ts);
    }

    /** DD's secondary model at {@code [1, 3, h, w]}, cosine time {@code t}. */
    public List<Pass> secondary(SecondaryModel sec, int h, int w, double t, Function<Tensor, Tensor> layout) {
        Tensor ts = scalarVector(t);
        return passes("secondary", new long[] {1, 3, h, w}, x -> sec.forward(layout.apply(x), ts).pred(), ts);
    }

    /** A CLIP image tower on {@code cuts} images at its input resolution. */
    public List<Pass> clip(String name, ClipModel clip, int cuts, Function<Tensor, Tensor> layout) {
        int r = clip.inputResolution();
        return passes("clip." + name, new long[] {cuts, 3, r, r}, x -> clip.encodeImage(layout.apply(x)), null);
    }

    private Tensor scalarVector(double t) {
        Tensor ts = torch.full(new long[] {1}, new org.bytedeco.pytorch.Scalar(t), new TensorOptions(torch.ScalarType.Float));
        ts = ts.to(device, torch.ScalarType.Float);
        ts.retainReference();
        return ts;
    }

    private List<Pass> passes(String name, long[] shape, Function<Tensor, Tensor> net, Tensor keep) {
        return passes(name, shape, net, null, keep);
    }

    /** With {@code trace} (not null) the forward with grad and the backward are a trace and its pull-back. */
    private List<Pass> passes(String name, long[] shape, Function<Tensor, Tensor> net,
                              Function<Tensor, UNetModel.Traced> trace, Tensor keep) {
        Tensor x;
        try (PointerScope s = new PointerScope()) {
            torch.manual_seed(1234);
            x = torch.randn(shape, new TensorOptions(torch.ScalarType.Float)).to(device, torch.ScalarType.Float);
            x.retainReference();
        }
        double[][] fwd = new double[2][reps + 1], fwdGrad = new double[2][reps + 1], bwd = new double[2][reps + 1];
        try {
            for (int i = 0; i <= reps; i++) { // repetition 0 is the warm-up, left out of the medians
                try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                    long c0 = StepBench.processCpuNanos(), t0 = System.nanoTime();
                    Tensor y = net.apply(x);
                    sync(y);
                    fwd[0][i] = (System.nanoTime() - t0) / 1e6;
                    fwd[1][i] = (StepBench.processCpuNanos() - c0) / 1e6;
                }
                try (PointerScope s = new PointerScope()) {
                    long c0 = StepBench.processCpuNanos(), t0 = System.nanoTime();
                    try (UNetModel.Traced tr = trace != null ? trace.apply(x) : autograd(net, x)) {
                        Tensor y = tr.output();
                        sync(y);
                        fwdGrad[0][i] = (System.nanoTime() - t0) / 1e6;
                        fwdGrad[1][i] = (StepBench.processCpuNanos() - c0) / 1e6;
                        Tensor g = torch.ones_like(y);
                        c0 = StepBench.processCpuNanos();
                        t0 = System.nanoTime();
                        sync(tr.vjp(g));
                        bwd[0][i] = (System.nanoTime() - t0) / 1e6;
                        bwd[1][i] = (StepBench.processCpuNanos() - c0) / 1e6;
                    }
                }
            }
        } finally {
            x.close();
            if (keep != null) keep.close();
        }
        List<Pass> out = new ArrayList<>();
        out.add(pass(name + ".forward", fwd));
        out.add(pass(name + ".forward_grad", fwdGrad));
        out.add(pass(name + ".backward", bwd));
        return out;
    }

    /** {@code net}'s forward with autograd's graph from a leaf at {@code x}, and its pull-back (in the caller's scope). */
    private static UNetModel.Traced autograd(Function<Tensor, Tensor> net, Tensor x) {
        Tensor leaf, y;
        try (AutoGradMode on = new AutoGradMode(true)) {
            leaf = x.detach().requires_grad_(true);
            y = net.apply(leaf).to(torch.ScalarType.Float);
        }
        return new UNetModel.Traced() {
            public Tensor output() {
                return y;
            }

            public Tensor vjp(Tensor g) {
                return Tensors.vjp(y, leaf, g);
            }

            public void close() {}
        };
    }

    private void sync(Tensor t) {
        if (device.is_cuda()) t.cpu();
    }

    private static Pass pass(String name, double[][] v) {
        double[] ms = Arrays.copyOfRange(v[0], 1, v[0].length);
        double[] cpu = Arrays.copyOfRange(v[1], 1, v[1].length);
        return new Pass(name, median(ms), median(cpu), ms);
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** name → median ms, in order. */
    public static Map<String, Double> medians(List<Pass> ps) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (Pass p : ps) m.put(p.name(), p.medianMs());
        return m;
    }
}
