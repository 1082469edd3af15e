package disco.models.clip;

import disco.models.clip.Nn.BatchNorm2d;
import disco.models.clip.Nn.Conv2d;
import disco.models.clip.Nn.Linear;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;

/**
 * CLIP's {@code ModifiedResNet}: a 3-conv stem with an average pool, Bottleneck blocks whose stride is an average
 * pool (anti-aliased, also in front of the downsample conv), and an attention pool over the final grid.
 */
final class ModifiedResNet extends ClipModule implements ClipModel.ImageTower {
    private final Conv2d conv1, conv2, conv3;
    private final BatchNorm2d bn1, bn2, bn3;
    private final List<Bottleneck> blocks = new ArrayList<>();
    private final AttentionPool2d attnpool;
    private final int inputResolution;

    ModifiedResNet(Device d, int[] layers, int outputDim, int heads, int inputResolution, int width) {
        super(d);
        this.inputResolution = inputResolution;
        conv1 = child("conv1", new Conv2d(d, 3, width / 2, 3, 2, 1, false));
        bn1 = child("bn1", new BatchNorm2d(d, width / 2));
        conv2 = child("conv2", new Conv2d(d, width / 2, width / 2, 3, 1, 1, false));
        bn2 = child("bn2", new BatchNorm2d(d, width / 2));
        conv3 = child("conv3", new Conv2d(d, width / 2, width, 3, 1, 1, false));
        bn3 = child("bn3", new BatchNorm2d(d, width));
        int inplanes = width;
        for (int l = 0; l < 4; l++) {
            int planes = width << l;
            int stride = l == 0 ? 1 : 2;
            Nn.Container layer = child("layer" + (l + 1), new Nn.Container(d));
            for (int b = 0; b < layers[l]; b++) {
                blocks.add(layer.child(Integer.toString(b), new Bottleneck(d, inplanes, planes, b == 0 ? stride : 1)));
                inplanes = planes * Bottleneck.EXPANSION;
            }
        }
        int embedDim = width * 32;
        attnpool = child("attnpool", new AttentionPool2d(d, inputResolution / 32, embedDim, heads, outputDim));
    }

    @Override
    public Tensor forward(Tensor x) {
        // in place: nothing keeps a norm's output for the backward (the ReLU keeps its own result)
        x = torch.relu_(bn1.forward(conv1.forward(x)));
        x = torch.relu_(bn2.forward(conv2.forward(x)));
        x = torch.relu_(bn3.forward(conv3.forward(x)));
        x = Nn.avgPool(x, 2);
        for (Bottleneck b : blocks) {
            Tensor in = x;
            x = disco.torch.Tensors.scoped(() -> b.forward(in));
        }
        return attnpool.forward(x);
    }

    @Override
    public int inputResolution() {
        return inputResolution;
    }

    /** Folds every norm into the convolution before it ({@link Conv2d#absorb}); once. */
    @Override
    public boolean foldNorms() {
        if (bn1.folded()) return false;
        conv1.absorb(bn1);
        conv2.absorb(bn2);
        conv3.absorb(bn3);
        for (Bottleneck b : blocks) b.foldNorms();
        return true;
    }

    static final class Bottleneck extends ClipModule {
        static final int EXPANSION = 4;
        private final Conv2d conv1, conv2, conv3;
        private final BatchNorm2d bn1, bn2, bn3;
        private final int stride;
        private final Conv2d downConv;
        private final BatchNorm2d downBn;

        Bottleneck(Device d, int inplanes, int planes, int stride) {
            super(d);
            this.stride = stride;
            conv1 = child("conv1", new Conv2d(d, inplanes, planes, 1, 1, 0, false));
            bn1 = child("bn1", new BatchNorm2d(d, planes));
            conv2 = child("conv2", new Conv2d(d, planes, planes, 3, 1, 1, false));
            bn2 = child("bn2", new BatchNorm2d(d, planes));
            conv3 = child("conv3", new Conv2d(d, planes, planes * EXPANSION, 1, 1, 0, false));
            bn3 = child("bn3", new BatchNorm2d(d, planes * EXPANSION));
            if (stride > 1 || inplanes != planes * EXPANSION) {
                // nn.Sequential("-1": AvgPool2d(stride), "0": conv 1x1, "1": BatchNorm2d)
                Nn.Container down = child("downsample", new Nn.Container(d));
                downConv = down.child("0", new Conv2d(d, inplanes, planes * EXPANSION, 1, 1, 0, false));
                downBn = down.child("1", new BatchNorm2d(d, planes * EXPANSION));
            } else {
                downConv = null;
                downBn = null;
            }
        }

        void foldNorms() {
            conv1.absorb(bn1);
            conv2.absorb(bn2);
            conv3.absorb(bn3);
            if (downConv != null) downConv.absorb(downBn);
        }

        Tensor forward(Tensor x) {
            Tensor out = torch.relu_(bn1.forward(conv1.forward(x)));
            out = torch.relu_(bn2.forward(conv2.forward(out)));
            if (stride > 1) out = Nn.avgPool(out, stride);
            out = bn3.forward(conv3.forward(out));
            Tensor identity = x;
            if (downConv != null) {
                Tensor y = stride > 1 ? Nn.avgPool(x, stride) : x;
                identity = downBn.forward(downConv.forward(y));
            }
            // in place: the last convolution's fresh output is saved by nothing (its input gradient needs the weights)
            return torch.relu_(out.add_(identity));
        }
    }

    /**
     * {@code AttentionPool2d}: the grid's mean token is prepended, the positional embedding added, and one query
     * (the mean token) attends over all tokens with separate q/k/v projections; {@code c_proj} is the output.
     */
    static final class AttentionPool2d extends ClipModule {
        private final Tensor positionalEmbedding;
        private final Linear kProj, qProj, vProj, cProj;
        private final int heads;

        AttentionPool2d(Device d, int spacialDim, int embedDim, int heads, int outputDim) {
            super(d);
            this.heads = heads;
            positionalEmbedding = param("positional_embedding", (long) spacialDim * spacialDim + 1, embedDim);
            kProj = child("k_proj", new Linear(d, embedDim, embedDim));
            qProj = child("q_proj", new Linear(d, embedDim, embedDim));
            vProj = child("v_proj", new Linear(d, embedDim, embedDim));
            cProj = child("c_proj", new Linear(d, embedDim, outputDim));
        }

        Tensor forward(Tensor x) {
            Tensor tokens = x.flatten(2, -1).permute(0, 2, 1); // [N, HW, C]
            Tensor mean = tokens.mean(new long[] {1}, true, new org.bytedeco.pytorch.ScalarTypeOptional());
            TensorVector parts = new TensorVector(mean, tokens);
            Tensor seq = torch.cat(parts, 1).add(positionalEmbedding); // [N, HW+1, C]
            Tensor q = qProj.forward(seq.narrow(1, 0, 1));
            Tensor k = kProj.forward(seq);
            Tensor v = vProj.forward(seq);
            Tensor o = Nn.attention(q, k, v, heads, false); // [N, 1, C]
            return cProj.forward(o).squeeze(1);
        }
    }
}
