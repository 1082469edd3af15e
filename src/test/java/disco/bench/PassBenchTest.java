package disco.bench;

import disco.models.clip.ClipModel;
import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetModel;
import disco.torch.Torch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PassBenchTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void timesTheThreePassesOfEachNetwork() {
        PassBench b = new PassBench(2, new Device(torch.DeviceType.CPU));
        Function<org.bytedeco.pytorch.Tensor, org.bytedeco.pytorch.Tensor> id = t -> t;
        check(b.unet(UNetModel.demo(), 32, 32, 500, id), "unet");
        check(b.secondary(SecondaryModel.demo(), 32, 32, 0.5, id), "secondary");
        check(b.clip("RN-tiny", ClipModel.demo("RN-tiny"), 3, id), "clip.RN-tiny");
    }

    private static void check(List<PassBench.Pass> ps, String name) {
        assertEquals(List.of(name + ".forward", name + ".forward_grad", name + ".backward"),
                ps.stream().map(PassBench.Pass::name).toList());
        for (PassBench.Pass p : ps) {
            assertEquals(2, p.ms().length, p.name());
            assertTrue(p.medianMs() > 0, p.name());
        }
    }
}
