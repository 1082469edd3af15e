package disco.kernels;

import static disco.torch.Scalars.s;
import disco.torch.Tensors;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The cutout stage computed the way DD does it, with LibTorch ops (the baseline the native kernels are measured
 * against, and a second implementation they are tested against): {@code F.pad} + slicing for the box, ResizeRight's
 * gather-and-weight resize (index the padded input with the field of view, multiply by the weights, sum), one resize
 * per distinct box (DD derives the overview's gray/flip copies from one resize), torchvision's grayscale, flip,
 * {@code affine} (affine grid + {@code grid_sampler} with the fill mask channel), {@code _blend}-based colour jitter
 * and hue through rgb→hsv→rgb, applied to the whole batch when the cuts share their augmentation parameters (DD's
 * T.Compose) and per cut otherwise. The backward is LibTorch autograd through these ops, as in DD.
 */
public final class TorchCutouts {
    private static final double GR = 0.2989, GG = 0.587, GB = 0.114;

    private TorchCutouts() {}

    /** Same contract as {@link Cutouts#forward}; differentiable with autograd when {@code image} requires grad. */
    public static Tensor forward(Tensor image, List<Cut> cuts, int size, Tensor noise) {
        Kernels.requireFloat("torch_cutouts", "image", image, -1, 3, -1, -1);
        if (cuts.isEmpty()) throw new IllegalArgumentException("torch_cutouts: cuts: expected at least one cut");
        if (noise == null && Cutouts.needsNoise(cuts)) {
            throw new IllegalArgumentException("torch_cutouts: noise: a cut has a noise scale but no noise tensor was given");
        }
        Map<List<Integer>, Tensor> resized = new HashMap<>();
        TensorVector parts = new TensorVector();
        for (Cut c : cuts) {
            List<Integer> key = List.of(c.image(), c.y0(), c.x0(), c.height(), c.width());
            Tensor r = resized.computeIfAbsent(key, k -> resizeBox(image, c, size));
            if (c.grayPre()) r = gray(r);
            if (c.hflip()) r = r.flip(3);
            parts.push_back(r);
        }
        Tensor x = torch.cat(parts, 0);
        boolean shared = true;
        Cut c0 = cuts.get(0);
        for (Cut c : cuts) shared &= sameAugs(c0, c);
        if (shared) return augment(x, c0, noise);
        TensorVector outs = new TensorVector();
        for (int i = 0; i < cuts.size(); i++) {
            outs.push_back(augment(x.narrow(0, i, 1), cuts.get(i), noise == null ? null : noise.narrow(0, i, 1)));
        }
        return torch.cat(outs, 0);
    }

    /** The VJP by LibTorch autograd through {@link #forward}: {@code [N,3,H,W]}. */
    public static Tensor backward(Tensor image, List<Cut> cuts, int size, Tensor noise, Tensor gradOut) {
        Tensor x = image.detach().requires_grad_(true);
        return Tensors.vjp(forward(x, cuts, size, noise), x, gradOut);
    }

    private static boolean sameAugs(Cut a, Cut b) {
        return a.noise1() == b.noise1() && a.noise2() == b.noise2() && a.noise3() == b.noise3()
                && a.grayAug() == b.grayAug() && Objects.equals(a.affine(), b.affine())
                && Objects.equals(a.jitter(), b.jitter());
    }

    // ---- the box and ResizeRight --------------------------------------------------------------------------------

    private static Tensor resizeBox(Tensor image, Cut c, int size) {
        long h = image.size(2), w = image.size(3);
        Tensor x = image.narrow(0, c.image(), 1);
        long top = Math.max(0, -c.y0()), bottom = Math.max(0, c.y0() + (long) c.height() - h);
        long left = Math.max(0, -c.x0()), right = Math.max(0, c.x0() + (long) c.width() - w);
        if (top + bottom + left + right > 0) x = torch.constant_pad_nd(x, left, right, top, bottom); // F.pad, zeros
        x = x.narrow(2, c.y0() + top, c.height()).narrow(3, c.x0() + left, c.width());
        double sh = (double) size / c.height(), sw = (double) size / c.width();
        // ResizeRight resizes dims in order of increasing scale factor, skipping scale 1
        int[] order = sh <= sw ? new int[] {2, 3} : new int[] {3, 2};
        for (int dim : order) {
            int in = dim == 2 ? c.height() : c.width();
            if (in != size) x = resizeDim(x, dim, in, size);
        }
        return x;
    }

    /**
     * One ResizeRight dim: pad by the field of view's overhang, gather the taps, weight, sum. The grid, field of view
     * and weights are computed in float32 step by step as ResizeRight's torch code does (its python scalars are
     * doubles, cast to float where they meet the float32 grid; Java float arithmetic rounds each operation, as torch
     * does): in double, the weights of an upscale differ from DD's by up to 1.8e-5.
     */
    private static Tensor resizeDim(Tensor x, int dim, int in, int out) {
        final double eps = 1.1920928955078125e-07; // torch.finfo(torch.float32).eps
        double scale = (double) out / in;
        boolean aa = scale < 1;
        double support = aa ? 4 / scale : 4;
        int taps = (int) Math.ceil(support - eps);
        final float sf = (float) scale, cIn = (float) ((in - 1) / 2.0), cOut = (float) ((out - 1) / (2 * scale));
        final float halfSupport = (float) (support / 2), feps = (float) eps;
        long[] left = new long[out];
        float[] grid = new float[out];
        for (int o = 0; o < out; o++) {
            grid[o] = ((float) o / sf + cIn) - cOut;
            left[o] = (long) Math.ceil((grid[o] - halfSupport) - feps);
        }
        long padL = -left[0], padR = left[out - 1] + taps - 1 - in + 1;
        float[] wts = new float[out * taps];
        float[] v = new float[taps];
        for (int o = 0; o < out; o++) {
            float g = grid[o] + (float) padL;
            float sum = 0;
            for (int t = 0; t < taps; t++) {
                float d = g - (float) (left[o] + padL + t);
                v[t] = aa ? sf * cubic(sf * d) : cubic(d);
                sum += v[t];
            }
            if (sum == 0) sum = 1;
            for (int t = 0; t < taps; t++) wts[o * taps + t] = v[t] / sum;
        }
        float[] fov = new float[out * taps];
        for (int o = 0; o < out; o++) for (int t = 0; t < taps; t++) fov[o * taps + t] = left[o] + t + padL;
        Tensor xp = dim == 3 ? torch.constant_pad_nd(x, padL, padR) : torch.constant_pad_nd(x, 0, 0, padL, padR);
        Tensor idx = Tensors.fromFloats(fov, (long) out * taps).to(x.device(), torch.ScalarType.Long);
        Tensor wt = Tensors.fromFloats(wts, out, taps).to(x.device(), torch.ScalarType.Float);
        Tensor nb = xp.index_select(dim, idx);
        if (dim == 2) {
            nb = nb.view(x.size(0), x.size(1), out, taps, x.size(3));
            return nb.mul(wt.view(1, 1, out, taps, 1)).sum(new long[] {3}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
        }
        nb = nb.view(x.size(0), x.size(1), x.size(2), out, taps);
        return nb.mul(wt.view(1, 1, 1, out, taps)).sum(new long[] {4}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
    }

    /** ResizeRight's cubic in float32, op by op as torch evaluates it ({@code |x|^3 = (|x|*|x|)*|x|}). */
    private static float cubic(float x) {
        float a = Math.abs(x), a2 = a * a, a3 = a2 * a;
        float p1 = (1.5f * a3 - 2.5f * a2) + 1.0f;
        float p2 = ((-0.5f * a3 + 2.5f * a2) - 4.0f * a) + 2.0f;
        return p1 * (a <= 1 ? 1f : 0f) + p2 * (1 < a && a <= 2 ? 1f : 0f);
    }

    // ---- torchvision ops ----------------------------------------------------------------------------------------


    /** rgb_to_grayscale(x) as one channel [K,1,S,S]. */
    private static Tensor gray1(Tensor x) {
        return x.narrow(1, 0, 1).mul(s(GR)).add(x.narrow(1, 1, 1).mul(s(GG))).add(x.narrow(1, 2, 1).mul(s(GB)));
    }

    private static Tensor gray(Tensor x) {
        return gray1(x).expand(x.size(0), 3, x.size(2), x.size(3));
    }

    private static Tensor clamp01(Tensor x) {
        return x.clamp(new ScalarOptional(s(0.0)), new ScalarOptional(s(1.0)));
    }

    private static Tensor blend(Tensor a, Tensor b, double ratio) {
        return clamp01(a.mul(s(ratio)).add(b.mul(s(1.0 - ratio))));
    }

    private static Tensor augment(Tensor x, Cut c, Tensor noise) {
        if (c.noise1() != 0) x = x.add(noise.select(1, 0).mul(s(c.noise1())));
        if (c.affine() != null) x = affine(x, c.affine());
        if (c.noise2() != 0) x = x.add(noise.select(1, 1).mul(s(c.noise2())));
        if (c.grayAug()) x = gray(x);
        if (c.noise3() != 0) x = x.add(noise.select(1, 2).mul(s(c.noise3())));
        if (c.jitter() != null) {
            Cut.Jitter j = c.jitter();
            for (int op : j.order()) {
                switch (op) {
                    case 0 -> x = clamp01(x.mul(s(j.brightness())));
                    case 1 -> x = blend(x, gray1(x).mean(new long[] {1, 2, 3}, true, new org.bytedeco.pytorch.ScalarTypeOptional()), j.contrast());
                    case 2 -> x = blend(x, gray1(x), j.saturation());
                    default -> x = hue(x, j.hue());
                }
            }
        }
        return x;
    }

    /** torchvision F.affine (tensor path): inverse matrix, affine grid, grid_sample bilinear with the mask. */
    private static Tensor affine(Tensor x, Cut.Affine a) {
        int k = (int) x.size(0), s = (int) x.size(2);
        float[] m = new float[6];
        double rot = Math.toRadians(a.angle());
        double[] mm = {Math.cos(rot), Math.sin(rot), 0, -Math.sin(rot), Math.cos(rot), 0};
        mm[2] += mm[0] * -a.tx() + mm[1] * -a.ty();
        mm[5] += mm[3] * -a.tx() + mm[4] * -a.ty();
        for (int i = 0; i < 6; i++) m[i] = (float) mm[i];
        // theta^T / [0.5 w, 0.5 h] as a [1,3,2] tensor
        float half = 0.5f * s;
        float[] rt = {m[0] / half, m[3] / half, m[1] / half, m[4] / half, m[2] / half, m[5] / half};
        float[] base = new float[s * s * 3];
        for (int i = 0; i < s; i++)
            for (int j = 0; j < s; j++) {
                int o = (i * s + j) * 3;
                base[o] = -s * 0.5f + 0.5f + j;
                base[o + 1] = -s * 0.5f + 0.5f + i;
                base[o + 2] = 1;
            }
        Tensor grid = Tensors.fromFloats(base, 1, (long) s * s, 3).to(x.device(), torch.ScalarType.Float)
                .bmm(Tensors.fromFloats(rt, 1, 3, 2).to(x.device(), torch.ScalarType.Float))
                .view(1, s, s, 2).expand(k, s, s, 2);
        Tensor withMask = torch.cat(new TensorVector(x, torch.ones_like(x.narrow(1, 0, 1))), 1);
        Tensor out = torch.grid_sampler(withMask, grid, 0, 0, false);
        Tensor img = out.narrow(1, 0, 3), mask = out.narrow(1, 3, 1).expand(k, 3, s, s);
        return img.mul(mask); // img * mask + (1 - mask) * fill, fill = 0
    }

    /** torchvision adjust_hue: _rgb2hsv, (h + f) % 1, _hsv2rgb. */
    private static Tensor hue(Tensor img, double f) {
        Tensor r = img.narrow(1, 0, 1), g = img.narrow(1, 1, 1), b = img.narrow(1, 2, 1);
        T_TensorTensor_T mx = img.max(1, true), mn = img.min(1, true);
        Tensor maxc = mx.get0(), minc = mn.get0();
        Tensor eqc = maxc.eq(minc);
        Tensor cr = maxc.sub(minc);
        Tensor ones = torch.ones_like(maxc);
        Tensor sat = cr.div(ones.where(eqc, maxc));
        Tensor crd = ones.where(eqc, cr);
        Tensor rc = maxc.sub(r).div(crd), gc = maxc.sub(g).div(crd), bc = maxc.sub(b).div(crd);
        Tensor isR = maxc.eq(r), isG = maxc.eq(g);
        Tensor hr = isR.to(torch.ScalarType.Float).mul(bc.sub(gc));
        Tensor hg = isG.logical_and(isR.logical_not()).to(torch.ScalarType.Float).mul(rc.sub(bc).add(s(2.0)));
        Tensor hb = isG.logical_not().logical_and(isR.logical_not()).to(torch.ScalarType.Float).mul(gc.sub(rc).add(s(4.0)));
        Tensor h = hr.add(hg).add(hb).div(s(6.0)).add(s(1.0)).fmod(s(1.0));
        h = h.add(s(f)).remainder(s(1.0));
        Tensor v = maxc;
        Tensor i = h.mul(s(6.0)).floor();
        Tensor fr = h.mul(s(6.0)).sub(i);
        Tensor ii = i.to(torch.ScalarType.Int).remainder(s(6));
        Tensor p = clamp01(v.mul(sat.mul(s(-1.0)).add(s(1.0))));
        Tensor q = clamp01(v.mul(sat.mul(fr).mul(s(-1.0)).add(s(1.0))));
        Tensor t = clamp01(v.mul(sat.mul(fr.mul(s(-1.0)).add(s(1.0))).mul(s(-1.0)).add(s(1.0))));
        Tensor[] mk = new Tensor[6];
        for (int n = 0; n < 6; n++) mk[n] = ii.eq(s(n)).to(torch.ScalarType.Float);
        Tensor[][] sel = {{v, q, p, p, t, v}, {t, v, v, q, p, p}, {p, p, t, v, v, q}};
        TensorVector chans = new TensorVector();
        for (Tensor[] row : sel) {
            Tensor acc = mk[0].mul(row[0]);
            for (int n = 1; n < 6; n++) acc = acc.add(mk[n].mul(row[n]));
            chans.push_back(acc);
        }
        return torch.cat(chans, 1);
    }
}
