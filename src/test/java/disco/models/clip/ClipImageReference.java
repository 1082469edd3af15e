package disco.models.clip;

import disco.torch.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/**
 * An independent, plain-Java float64 transcription of {@code clip/model.py}'s image towers (one image at a time),
 * written loop by loop from the Python, to check the LibTorch modules' use of LibTorch (layouts, head splits,
 * pooling, token order) on small models.
 */
final class ClipImageReference {
    private final Map<String, Tensor> sd;
    private final ClipConfig cfg;

    ClipImageReference(ClipModel m) {
        this.sd = m.stateDict();
        this.cfg = m.config();
    }

    private double[] w(String key) {
        return disco.torch.Tensors.toDoubles(sd.get(key));
    }

    private long[] s(String key) {
        return Tensors.shape(sd.get(key));
    }

    /** encode_image of one normalised image {@code [3][R][R]} (flat, channel-major). */
    double[] encodeImage(double[] img) {
        int r = cfg.imageResolution();
        return cfg.isVit() ? vit(img, r) : resnet(img, r);
    }

    // ---- ModifiedResNet ----
    private double[] resnet(double[] x, int r) {
        int[] dims = {3, r, r};
        Act a = new Act(x, 3, r, r);
        a = relu(bn(conv(a, "visual.conv1.weight", 2, 1), "visual.bn1"));
        a = relu(bn(conv(a, "visual.conv2.weight", 1, 1), "visual.bn2"));
        a = relu(bn(conv(a, "visual.conv3.weight", 1, 1), "visual.bn3"));
        a = avgPool(a, 2);
        for (int l = 1; l <= 4; l++) {
            for (int b = 0; b < cfg.resnetLayers().get(l - 1); b++) {
                int stride = (l > 1 && b == 0) ? 2 : 1;
                a = bottleneck(a, "visual.layer" + l + "." + b + ".", stride);
            }
        }
        return attnPool(a);
    }

    private Act bottleneck(Act x, String p, int stride) {
        Act out = relu(bn(conv(x, p + "conv1.weight", 1, 0), p + "bn1"));
        out = relu(bn(conv(out, p + "conv2.weight", 1, 1), p + "bn2"));
        if (stride > 1) out = avgPool(out, stride);
        out = bn(conv(out, p + "conv3.weight", 1, 0), p + "bn3");
        Act id = x;
        if (sd.containsKey(p + "downsample.0.weight")) {
            Act y = stride > 1 ? avgPool(x, stride) : x;
            id = bn(conv(y, p + "downsample.0.weight", 1, 0), p + "downsample.1");
        }
        double[] o = new double[out.v.length];
        for (int i = 0; i < o.length; i++) o[i] = Math.max(0, out.v[i] + id.v[i]);
        return new Act(o, out.c, out.h, out.w);
    }

    private double[] attnPool(Act x) {
        int hw = x.h * x.w, c = x.c;
        double[][] seq = new double[hw + 1][c];
        for (int ch = 0; ch < c; ch++) {
            double mean = 0;
            for (int i = 0; i < hw; i++) {
                seq[i + 1][ch] = x.v[ch * hw + i];
                mean += x.v[ch * hw + i];
            }
            seq[0][ch] = mean / hw;
        }
        double[] pos = w("visual.attnpool.positional_embedding");
        for (int i = 0; i <= hw; i++) for (int ch = 0; ch < c; ch++) seq[i][ch] += pos[i * c + ch];
        String p = "visual.attnpool.";
        double[][] q = linear(new double[][] {seq[0]}, p + "q_proj");
        double[][] k = linear(seq, p + "k_proj");
        double[][] v = linear(seq, p + "v_proj");
        double[][] o = attend(q, k, v, cfg.visionHeads(), false);
        return linear(o, p + "c_proj")[0];
    }

    // ---- VisionTransformer ----
    private double[] vit(double[] img, int r) {
        long[] cw = s("visual.conv1.weight");
        int width = (int) cw[0], patch = (int) cw[2], grid = r / patch;
        Act p = conv(new Act(img, 3, r, r), "visual.conv1.weight", patch, 0);
        double[][] seq = new double[grid * grid + 1][width];
        double[] cls = w("visual.class_embedding");
        double[] pos = w("visual.positional_embedding");
        seq[0] = cls.clone();
        for (int i = 0; i < grid * grid; i++) for (int ch = 0; ch < width; ch++) seq[i + 1][ch] = p.v[ch * grid * grid + i];
        for (int i = 0; i < seq.length; i++) for (int ch = 0; ch < width; ch++) seq[i][ch] += pos[i * width + ch];
        seq = layerNorm(seq, "visual.ln_pre");
        for (int b = 0; b < cfg.vitLayers(); b++) seq = block(seq, "visual.transformer.resblocks." + b + ".", cfg.visionHeads());
        double[][] first = layerNorm(new double[][] {seq[0]}, "visual.ln_post");
        double[] proj = w("visual.proj");
        int out = (int) s("visual.proj")[1];
        double[] e = new double[out];
        for (int j = 0; j < out; j++) for (int i = 0; i < width; i++) e[j] += first[0][i] * proj[i * out + j];
        return e;
    }

    private double[][] block(double[][] x, String p, int heads) {
        int d = x[0].length;
        double[][] h = layerNorm(x, p + "ln_1");
        double[] inW = w(p + "attn.in_proj_weight"), inB = w(p + "attn.in_proj_bias");
        double[][] q = new double[x.length][d], k = new double[x.length][d], v = new double[x.length][d];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < 3 * d; o++) {
                double acc = inB[o];
                for (int i = 0; i < d; i++) acc += inW[o * d + i] * h[t][i];
                (o < d ? q : o < 2 * d ? k : v)[t][o % d] = acc;
            }
        }
        double[][] a = linear(attend(q, k, v, heads, false), p + "attn.out_proj");
        double[][] y = new double[x.length][d];
        for (int t = 0; t < x.length; t++) for (int i = 0; i < d; i++) y[t][i] = x[t][i] + a[t][i];
        double[][] m = linear(layerNorm(y, p + "ln_2"), p + "mlp.c_fc");
        for (double[] row : m) for (int i = 0; i < row.length; i++) row[i] = row[i] / (1 + Math.exp(-1.702 * row[i]));
        m = linear(m, p + "mlp.c_proj");
        for (int t = 0; t < x.length; t++) for (int i = 0; i < d; i++) y[t][i] += m[t][i];
        return y;
    }

    // ---- primitives ----
    record Act(double[] v, int c, int h, int w) {}

    private Act conv(Act x, String key, int stride, int pad) {
        long[] ws = s(key);
        int o = (int) ws[0], ci = (int) ws[1], k = (int) ws[2];
        double[] wt = w(key);
        int oh = (x.h + 2 * pad - k) / stride + 1, ow = (x.w + 2 * pad - k) / stride + 1;
        double[] out = new double[o * oh * ow];
        for (int oc = 0; oc < o; oc++)
            for (int y = 0; y < oh; y++)
                for (int xx = 0; xx < ow; xx++) {
                    double acc = 0;
                    for (int c = 0; c < ci; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = y * stride - pad + ky, ix = xx * stride - pad + kx;
                                if (iy < 0 || ix < 0 || iy >= x.h || ix >= x.w) continue;
                                acc += wt[((oc * ci + c) * k + ky) * k + kx] * x.v[(c * x.h + iy) * x.w + ix];
                            }
                    out[(oc * oh + y) * ow + xx] = acc;
                }
        return new Act(out, o, oh, ow);
    }

    private Act bn(Act x, String p) {
        double[] g = w(p + ".weight"), b = w(p + ".bias"), m = w(p + ".running_mean"), v = w(p + ".running_var");
        double[] out = new double[x.v.length];
        int hw = x.h * x.w;
        for (int c = 0; c < x.c; c++)
            for (int i = 0; i < hw; i++)
                out[c * hw + i] = (x.v[c * hw + i] - m[c]) / Math.sqrt(v[c] + 1e-5) * g[c] + b[c];
        return new Act(out, x.c, x.h, x.w);
    }

    private static Act relu(Act x) {
        double[] out = x.v.clone();
        for (int i = 0; i < out.length; i++) out[i] = Math.max(0, out[i]);
        return new Act(out, x.c, x.h, x.w);
    }

    private static Act avgPool(Act x, int k) {
        int oh = x.h / k, ow = x.w / k;
        double[] out = new double[x.c * oh * ow];
        for (int c = 0; c < x.c; c++)
            for (int y = 0; y < oh; y++)
                for (int xx = 0; xx < ow; xx++) {
                    double acc = 0;
                    for (int dy = 0; dy < k; dy++)
                        for (int dx = 0; dx < k; dx++) acc += x.v[(c * x.h + y * k + dy) * x.w + xx * k + dx];
                    out[(c * oh + y) * ow + xx] = acc / (k * k);
                }
        return new Act(out, x.c, oh, ow);
    }

    private double[][] linear(double[][] x, String p) {
        long[] ws = s(p + ".weight");
        int o = (int) ws[0], in = (int) ws[1];
        double[] wt = w(p + ".weight"), b = w(p + ".bias");
        double[][] out = new double[x.length][o];
        for (int t = 0; t < x.length; t++)
            for (int j = 0; j < o; j++) {
                double acc = b[j];
                for (int i = 0; i < in; i++) acc += wt[j * in + i] * x[t][i];
                out[t][j] = acc;
            }
        return out;
    }

    private double[][] layerNorm(double[][] x, String p) {
        double[] g = w(p + ".weight"), b = w(p + ".bias");
        double[][] out = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            int d = x[t].length;
            double mean = 0, var = 0;
            for (double v : x[t]) mean += v;
            mean /= d;
            for (double v : x[t]) var += (v - mean) * (v - mean);
            var /= d;
            out[t] = new double[d];
            for (int i = 0; i < d; i++) out[t][i] = (x[t][i] - mean) / Math.sqrt(var + 1e-5) * g[i] + b[i];
        }
        return out;
    }

    /** Multi-head attention: head h uses columns [h*hd, (h+1)*hd) of q, k, v. */
    static double[][] attend(double[][] q, double[][] k, double[][] v, int heads, boolean causal) {
        int d = q[0].length, hd = d / heads;
        double[][] out = new double[q.length][d];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < q.length; i++) {
                double[] s = new double[k.length];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < k.length; j++) {
                    if (causal && j > i) {
                        s[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double acc = 0;
                    for (int e = 0; e < hd; e++) acc += q[i][h * hd + e] * k[j][h * hd + e];
                    s[j] = acc / Math.sqrt(hd);
                    max = Math.max(max, s[j]);
                }
                double z = 0;
                for (int j = 0; j < k.length; j++) z += s[j] = Math.exp(s[j] - max);
                for (int j = 0; j < k.length; j++)
                    for (int e = 0; e < hd; e++) out[i][h * hd + e] += s[j] / z * v[j][h * hd + e];
            }
        }
        return out;
    }
}
