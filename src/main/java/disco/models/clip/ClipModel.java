package disco.models.clip;

import disco.torch.Tensors;
import disco.models.clip.Nn.LayerNorm;
import disco.models.clip.Nn.Transformer;
import disco.models.checkpoint.TorchCheckpoint;
import disco.models.tokenizer.SimpleTokenizer;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * OpenAI's CLIP in LibTorch, parameter for parameter ({@code clip/model.py}): a ModifiedResNet or
 * VisionTransformer image tower and the causal text transformer, computed in float32 (LayerNorm statistics in
 * float32 too). Weights never require grad; {@link #encodeImage} keeps the autograd graph to its input.
 */
public final class ClipModel extends ClipModule {
    /** The names of the demo models {@link #demo(String)} builds. */
    public static final List<String> DEMO_NAMES = List.of("RN-tiny", "ViT-tiny");

    /** What both image towers offer. */
    interface ImageTower {
        Tensor forward(Tensor images);

        int inputResolution();

        /** Folds eval-mode norms into the layers before them, where the tower has such pairs; whether it changed. */
        default boolean foldNorms() {
            return false;
        }
    }

    private final ClipConfig config;
    private final ImageTower visual;
    private final Transformer transformer;
    private final Tensor tokenEmbedding, positionalEmbedding, textProjection;
    private final LayerNorm lnFinal;
    private TorchCheckpoint.OpenClipForm form;
    private boolean textReleased;

    private ClipModel(ClipConfig c, Device d) {
        super(d);
        this.config = c;
        if (c.isVit()) {
            visual = child("visual", new VisionTransformer(d, c.imageResolution(), c.visionPatchSize(),
                    c.visionWidth(), c.vitLayers(), c.visionHeads(), c.visionMlpWidth(), c.quickGelu(), c.embedDim()));
        } else {
            int[] layers = c.resnetLayers().stream().mapToInt(Integer::intValue).toArray();
            visual = child("visual", new ModifiedResNet(d, layers, c.embedDim(), c.visionHeads(),
                    c.imageResolution(), c.visionWidth()));
        }
        transformer = child("transformer",
                new Transformer(d, c.transformerWidth(), c.transformerLayers(), c.transformerHeads(),
                        4L * c.transformerWidth(), c.quickGelu()));
        Nn.Container emb = child("token_embedding", new Nn.Container(d));
        tokenEmbedding = emb.param("weight", c.vocabSize(), c.transformerWidth());
        positionalEmbedding = param("positional_embedding", c.contextLength(), c.transformerWidth());
        lnFinal = child("ln_final", new LayerNorm(d, c.transformerWidth()));
        textProjection = param("text_projection", c.transformerWidth(), c.embedDim());
        param("logit_scale");
    }

    /**
     * A CLIP of this architecture with uninitialised weights on {@code device} (the {@code meta} device builds one
     * without memory, e.g. to compare keys and shapes).
     */
    public static ClipModel build(ClipConfig config, Device device) {
        Torch.init();
        ClipModel m = new ClipModel(config, device);
        m.retainReference(); // survives any PointerScope it is built in; lives as long as the caller keeps it
        return m;
    }

    /**
     * Loads an OpenAI CLIP file (a TorchScript archive, float16 weights, or a zip {@code state_dict}) onto the CPU:
     * the architecture comes from the tensor shapes ({@code build_model}), weights are converted to float32.
     * Bad files, missing/extra keys and wrong shapes are bad input naming the file and key.
     */
    public static ClipModel load(Path checkpoint) {
        return load(checkpoint, new Device(torch.DeviceType.CPU));
    }

    /** As {@link #load(Path)}, with the weights on {@code device}. */
    public static ClipModel load(Path checkpoint, Device device) {
        Torch.init();
        ClipModel m;
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> weights = TorchCheckpoint.read(checkpoint);
            Map<String, long[]> shapes = new LinkedHashMap<>();
            weights.forEach((k, t) -> {
                if (!ClipConfig.NON_WEIGHT_KEYS.contains(k)) shapes.put(k, Tensors.shape(t));
            });
            m = build(ClipConfig.fromShapes(shapes, checkpoint.toString()), device);
            TorchCheckpoint.loadInto(m, weights, checkpoint, ClipConfig.NON_WEIGHT_KEYS);
        }
        return m;
    }

    /**
     * Loads an open_clip checkpoint onto the CPU into the architecture of its open_clip model config (as
     * {@code open_clip.create_model(name, pretrained=file)} does, without resizing positional embeddings): a plain
     * state_dict or a training checkpoint with DDP's {@code module.} prefixes, told apart by the content
     * ({@link TorchCheckpoint#loadOpenClip}). Strict: missing, extra or mis-shaped keys are bad input naming the file.
     */
    public static ClipModel loadOpenClip(ClipConfig config, Path checkpoint) {
        return loadOpenClip(config, checkpoint, new Device(torch.DeviceType.CPU));
    }

    /** As {@link #loadOpenClip(ClipConfig, Path)}, with the weights on {@code device}. */
    public static ClipModel loadOpenClip(ClipConfig config, Path checkpoint, Device device) {
        ClipModel m = build(config, device);
        try {
            m.form = TorchCheckpoint.loadOpenClip(m, checkpoint);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    /** For a model from {@link #loadOpenClip}: how its file held the state dict; null otherwise. */
    public TorchCheckpoint.OpenClipForm openClipForm() {
        return form;
    }

    /** A CLIP of this architecture on the CPU, every weight drawn from a fixed-seed generator (deterministic). */
    public static ClipModel random(ClipConfig config, long seed) {
        ClipModel m = build(config, new Device(torch.DeviceType.CPU));
        m.initRandom(seed);
        return m;
    }

    /**
     * A tiny random-initialised CLIP for demos and tests, no download needed: {@code RN-tiny} (a ModifiedResNet
     * of width 8, one block per stage, 64 px) or {@code ViT-tiny} (width 64, patch 8, two layers, 32 px), both
     * with a 64-wide text transformer over CLIP's full vocabulary and embeddings of 32.
     */
    public static ClipModel demo(String name) {
        return switch (name) {
            case "RN-tiny" -> random(new ClipConfig(32, 64, List.of(1, 1, 1, 1), 0, 8, 0, 4, 77, 49408, 64, 1, 1),
                    0x5EED_C11E_0001L);
            case "ViT-tiny" -> random(new ClipConfig(32, 32, List.of(), 2, 64, 8, 1, 77, 49408, 64, 1, 2),
                    0x5EED_C11E_0002L);
            default -> throw DiscoException.badInput("CLIP model '" + name + "': expected one of " + DEMO_NAMES);
        };
    }

    public ClipConfig config() {
        return config;
    }

    /** The side of the square images {@link #encodeImage} takes. */
    public int inputResolution() {
        return visual.inputResolution();
    }

    /** The width of the image and text embeddings. */
    public int embedDim() {
        return config.embedDim();
    }

    public Device device() {
        return device;
    }

    /** Every parameter and buffer, named as in OpenAI's state dicts. */
    public Map<String, Tensor> stateDict() {
        return stateTensors();
    }

    /**
     * {@code encode_image}: normalised images {@code [N, 3, R, R]} (float32, on this model's device;
     * CLIP's mean/std normalisation is the guidance's, as in DD's {@code cond_fn}) to {@code [N, embedDim]}. Autograd flows back to {@code images}.
     */
    public Tensor encodeImage(Tensor images) {
        if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != inputResolution()
                || images.size(3) != inputResolution()) {
            throw new IllegalArgumentException("encodeImage: expected [N, 3, " + inputResolution() + ", "
                    + inputResolution() + "], found " + java.util.Arrays.toString(Tensors.shape(images)));
        }
        return visual.forward(images);
    }

    /**
     * Frees the text tower's weights (every entry but {@code visual.*} and {@code logit_scale}: the token and
     * positional embeddings, the text transformer, {@code ln_final}, {@code text_projection}), for a run whose
     * prompts are encoded: the guidance needs only the image tower (for ViT-B/32 or RN50 about 250 MB).
     * {@link #encodeText} is refused afterwards; {@link #stateDict} lists those entries empty. Returns the bytes freed.
     */
    public long releaseTextTower() {
        long freed = 0;
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : stateTensors().entrySet()) {
                if (e.getKey().startsWith("visual.") || e.getKey().equals("logit_scale")) continue;
                Tensor t = e.getValue();
                freed += t.nbytes();
                t.__dispatch_set_data(torch.empty(new long[] {0}, Ops.options(t.scalar_type(), t.device()), null));
            }
        }
        textReleased = true;
        return freed;
    }

    /**
     * Folds the image tower's eval-mode batch norms into the convolutions before them (the ResNets; a ViT has none):
     * the same function with one elementwise pass fewer per convolution in the forward and in the backward. The
     * state dict then holds the folded values (the convolutions' weights scaled, each norm weight 1, mean 0,
     * variance {@code 1 - eps} and its shift as bias), which still describe the same model. Once; later calls do
     * nothing. Returns whether this call folded anything.
     */
    public boolean foldImageNorms() {
        return visual.foldNorms();
    }

    /** Whether {@link #encodeText} still works (the text tower was not released). */
    public boolean hasTextTower() {
        return !textReleased;
    }

    /**
     * {@code encode_text}: token ids {@code [N, contextLength]} (int32 or int64) to {@code [N, embedDim]}, the
     * features at each row's end token (its largest id), without autograd.
     */
    public Tensor encodeText(Tensor tokens) {
        if (textReleased) {
            throw new IllegalStateException("encodeText: this CLIP model's text tower was released once the run's"
                    + " prompts were encoded");
        }
        if (tokens.dim() != 2 || tokens.size(1) != config.contextLength()) {
            throw new IllegalArgumentException("encodeText: expected [N, " + config.contextLength() + "] tokens, found "
                    + java.util.Arrays.toString(Tensors.shape(tokens)));
        }
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor ids = tokens.to(device, torch.ScalarType.Long);
            long n = ids.size(0), l = ids.size(1);
            Tensor x = torch.embedding(tokenEmbedding, ids).add(positionalEmbedding);
            x = transformer.forward(x, true);
            x = lnFinal.forward(x);
            Tensor eot = ids.argmax(new org.bytedeco.pytorch.LongOptional(-1), false);
            Tensor rows = torch.arange(new Scalar(0), new Scalar(n), Ops.options(torch.ScalarType.Long, device))
                    .mul(new Scalar(l)).add(eot);
            return x.reshape(n * l, x.size(2)).index_select(0, rows).matmul(textProjection);
        }
    }

    /** Tokenizes ({@code truncate=true}) and encodes each text: {@code [texts.size(), embedDim]}. */
    public Tensor encodeText(SimpleTokenizer tokenizer, List<String> texts) {
        if (config.contextLength() != SimpleTokenizer.CONTEXT_LENGTH) {
            throw new IllegalStateException("this CLIP's context is " + config.contextLength() + " tokens, the tokenizer's "
                    + SimpleTokenizer.CONTEXT_LENGTH);
        }
        long[] ids = new long[texts.size() * SimpleTokenizer.CONTEXT_LENGTH];
        for (int i = 0; i < texts.size(); i++) {
            int[] t = tokenizer.tokenize(texts.get(i));
            for (int j = 0; j < t.length; j++) ids[i * SimpleTokenizer.CONTEXT_LENGTH + j] = t[j];
        }
        return encodeText(Tensors.fromLongs(ids, texts.size(), SimpleTokenizer.CONTEXT_LENGTH));
    }

    /**
     * Fills every weight from a {@link SplittableRandom} seeded with {@code seed}, in state-dict order: norms
     * at weight 1 / bias 0 with identity running statistics, biases 0, matrices and kernels normal with std
     * fan_in^-1/2, embeddings normal(0, 0.02), {@code logit_scale} = ln(1/0.07).
     */
    void initRandom(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : stateTensors().entrySet()) {
                String k = e.getKey();
                Tensor t = e.getValue();
                long[] shape = Tensors.shape(t);
                int n = (int) t.numel();
                if (k.endsWith("num_batches_tracked")) {
                    t.zero_();
                    continue;
                }
                float[] v = new float[n];
                if (k.equals("logit_scale")) {
                    v[0] = (float) Math.log(1 / 0.07);
                } else if (k.endsWith("running_var") || (shape.length == 1 && k.endsWith(".weight"))) {
                    java.util.Arrays.fill(v, 1f);
                } else if (k.endsWith("running_mean") || k.endsWith("bias")) {
                    // zeros
                } else {
                    double std;
                    if (k.endsWith("embedding") || k.endsWith("token_embedding.weight")) std = 0.02;
                    else if (k.endsWith("proj") || k.equals("text_projection")) std = 1 / Math.sqrt(shape[0]);
                    else std = 1 / Math.sqrt((double) n / shape[0]);
                    for (int i = 0; i < n; i++) v[i] = (float) (std * gaussian(rng));
                }
                t.copy_(disco.torch.Tensors.fromFloats(v, shape).to(t.device(), t.scalar_type()));
            }
        }
    }

    private static double gaussian(SplittableRandom r) {
        // Box-Muller (one of the pair): platform-independent, unlike LibTorch's generators across versions
        double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** Frees the weights (natively); the model is unusable afterwards. */
    @Override
    public void close() {
        releaseRetained();
        super.close();
    }

    /** Shapes of every state-dict entry, for comparison with manifests. */
    public Map<String, long[]> shapes() {
        Map<String, long[]> out = new LinkedHashMap<>();
        stateTensors().forEach((k, t) -> out.put(k, Tensors.shape(t)));
        return out;
    }
}
