package disco.models.unet;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.models.checkpoint.TorchCheckpoint;
import disco.torch.Tensors;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every architecture key of {@code diffusion_model_config} is honoured, none silently ignored: the keys that shape the
 * state_dict make a checkpoint of another value fail to load (naming a key), the ones that do not (head splits,
 * attention order) change the output for the same weights; dropout does nothing in eval mode, as in DD.
 */
class UNetArchitectureKeysTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static ObjectNode base() {
        ObjectNode n = JSON.createObjectNode();
        n.put("image_size", 32).put("num_channels", 32).put("num_res_blocks", 1).put("channel_mult", "1,2")
                .put("attention_resolutions", "16").put("num_heads", 2).put("num_head_channels", -1)
                .put("num_heads_upsample", -1).put("use_scale_shift_norm", true).put("resblock_updown", true)
                .put("learn_sigma", true).put("use_new_attention_order", false).put("dropout", 0.0);
        return n;
    }

    private static UNetConfig with(Consumer<ObjectNode> edit) {
        ObjectNode n = base();
        edit.accept(n);
        return UNetConfig.fromJson(n, "test");
    }

    private static float[] out(UNetModel m) {
        float[] x = new float[3 * 32 * 32];
        SplittableRandom r = new SplittableRandom(4);
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            return Tensors.toFloats(m.forward(Tensors.fromFloats(x, 1, 3, 32, 32), Tensors.fromFloats(new float[] {300f}, 1)));
        }
    }

    @Test
    void shapeKeysMakeAnotherCheckpointFailNamingAKey() {
        UNetModel a = new UNetModel(with(n -> {})).randomInit(1);
        Map<String, Tensor> sd = TorchCheckpoint.stateDict(a);
        Map<String, Consumer<ObjectNode>> edits = new java.util.LinkedHashMap<>();
        edits.put("num_channels", n -> n.put("num_channels", 64));
        edits.put("num_res_blocks", n -> n.put("num_res_blocks", 2));
        edits.put("channel_mult", n -> n.put("channel_mult", "1,1"));
        edits.put("attention_resolutions", n -> n.put("attention_resolutions", "32"));
        edits.put("image_size", n -> n.put("image_size", 64)); // attention at 64 // 16 = 4: another level
        edits.put("use_scale_shift_norm", n -> n.put("use_scale_shift_norm", false));
        edits.put("resblock_updown", n -> n.put("resblock_updown", false));
        edits.put("learn_sigma", n -> n.put("learn_sigma", false));
        for (Map.Entry<String, Consumer<ObjectNode>> e : edits.entrySet()) {
            UNetModel b = new UNetModel(with(e.getValue()));
            DiscoException ex = assertThrows(DiscoException.class,
                    () -> TorchCheckpoint.loadInto(b, sd, Path.of("unet.pt")), e.getKey());
            assertTrue(ex.getMessage().startsWith("unet.pt: "), e.getKey() + ": " + ex.getMessage());
        }
    }

    @Test
    void headAndAttentionKeysChangeTheOutputForTheSameWeights() {
        UNetModel a = new UNetModel(with(n -> {})).randomInit(1);
        Map<String, Tensor> sd = TorchCheckpoint.stateDict(a);
        float[] ref = out(a);
        Map<String, Consumer<ObjectNode>> edits = new java.util.LinkedHashMap<>();
        edits.put("num_heads", n -> n.put("num_heads", 4));
        edits.put("num_head_channels", n -> n.put("num_head_channels", 8));
        edits.put("num_heads_upsample", n -> n.put("num_heads_upsample", 1));
        edits.put("use_new_attention_order", n -> n.put("use_new_attention_order", true));
        for (Map.Entry<String, Consumer<ObjectNode>> e : edits.entrySet()) {
            UNetModel b = new UNetModel(with(e.getValue()));
            TorchCheckpoint.loadInto(b, sd, Path.of("unet.pt"));
            assertFalse(Arrays.equals(ref, out(b)), e.getKey() + " made no difference");
        }
        // dropout is training-only: DD runs the UNet in eval mode, so it changes nothing
        UNetModel d = new UNetModel(with(n -> n.put("dropout", 0.5)));
        TorchCheckpoint.loadInto(d, sd, Path.of("unet.pt"));
        d.eval();
        assertArrayEquals(ref, out(d));
        assertEquals(6, with(n -> {}).outChannels());
        assertEquals(3, with(n -> n.put("learn_sigma", false)).outChannels());
    }
}
