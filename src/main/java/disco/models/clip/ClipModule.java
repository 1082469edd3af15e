package disco.models.clip;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Base of the CLIP building blocks: a LibTorch {@link Module} whose parameters and buffers carry exactly the
 * names of OpenAI's state dicts, created empty (float32) on a device and filled by a checkpoint or a seeded
 * initialiser. Every kept handle is retained, so building inside a caller's {@code PointerScope} is safe.
 * Weights never require grad: autograd flows to the inputs (the images) only.
 */
abstract class ClipModule extends Module {
    final Device device;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<String, ClipModule> children = new LinkedHashMap<>();

    ClipModule(Device device) {
        this.device = device;
    }

    Tensor param(String name, long... shape) {
        Tensor t = torch.empty(shape, Ops.options(torch.ScalarType.Float, device), null);
        // keep our own handle: the returned reference points into LibTorch's dict and moves when it grows
        register_parameter(name, t, false);
        t.retainReference();
        tensors.put(name, t);
        return t;
    }

    Tensor buffer(String name, torch.ScalarType dtype, long... shape) {
        Tensor t = torch.empty(shape, Ops.options(dtype, device), null);
        register_buffer(name, t);
        t.retainReference();
        tensors.put(name, t);
        return t;
    }

    <M extends ClipModule> M child(String name, M m) {
        register_module(name, m);
        m.retainReference();
        children.put(name, m);
        return m;
    }

    /** Drops the handles this module and its children retained (after which they are unusable). */
    void releaseRetained() {
        for (Tensor t : tensors.values()) t.releaseReference();
        for (ClipModule c : children.values()) {
            c.releaseRetained();
            c.releaseReference();
        }
        tensors.clear();
        children.clear();
    }

    /** Every parameter and buffer under this module, named as in the state dict (in registration order). */
    Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out);
        return out;
    }

    private void collect(String prefix, Map<String, Tensor> out) {
        tensors.forEach((k, v) -> out.put(prefix + k, v));
        children.forEach((k, m) -> m.collect(prefix + k + ".", out));
    }
}
