package disco.cli;

import disco.run.PerfOptions;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.settings.SettingsOverrides;
import disco.torch.Torch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** DD's useCPU (the device when --device is not given) and use_checkpoint (UNet checkpointing). */
class DdDeviceKeysTest {
    private static Settings with(String key, String value) {
        return SettingsIO.load(null, new SettingsOverrides(null, null, null, null, null, null, null, Map.of(key, value)))
                .settings();
    }

    @Test
    void useCpuChoosesTheDeviceWhenTheFlagDoesNot() {
        Torch.init();
        RunSupport.ExecOptions o = new RunSupport.ExecOptions();
        assertTrue(RunSupport.device(o, with("useCPU", "true")).is_cpu());
        assertTrue(RunSupport.device(o, Settings.defaults()).is_cpu());
        // useCPU: false is DD's "cuda if there is one": here only when LibTorch and the kernels have CUDA
        Device d = RunSupport.device(o, with("useCPU", "false"));
        assertEquals(torch.cuda_is_available() && disco.kernels.Kernels.hasCuda(), d.is_cuda());
        o.device = "cpu";
        assertTrue(RunSupport.device(o, with("useCPU", "false")).is_cpu(), "--device wins");
    }

    @Test
    void aNonZeroRangeScaleIsSaidToChangeNothingInDd() {
        String w = disco.run.RunLoop.rangeScaleWarning(with("range_scale", "150"));
        assertNotNull(w);
        assertTrue(w.contains("range_scale") && w.contains("does not change the image"), w);
        assertNotNull(disco.run.RunLoop.rangeScaleWarning(with("range_scale", "[0]*999+[5]")));
        assertNull(disco.run.RunLoop.rangeScaleWarning(with("range_scale", "0")));
    }

    @Test
    void useCheckpointTurnsOnUnetCheckpointing() {
        Device cpu = new Device(torch.DeviceType.CPU);
        PerfFlags f = new PerfFlags();
        f.clipBatch = "auto";
        f.channelsLast = "auto";
        assertFalse(f.options(Settings.defaults(), cpu, new ArrayList<>()).unetCheckpointing());
        PerfOptions on = f.options(with("use_checkpoint", "true"), cpu, new ArrayList<>());
        assertTrue(on.unetCheckpointing());
        assertFalse(f.options(with("use_checkpoint", "false"), cpu, new ArrayList<>()).unetCheckpointing());
    }
}
