package disco.models.clip;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/** Small LibTorch helpers for the CLIP package: options, optional tensors. */
final class Ops {
    private Ops() {}

    static TensorOptions options(torch.ScalarType dtype, Device device) {
        return new TensorOptions().dtype(new ScalarTypeOptional(dtype)).device(new DeviceOptional(device));
    }

    static TensorOptional opt(Tensor t) {
        return t == null ? new TensorOptional() : new TensorOptional(t);
    }
}
