package disco.models.unet;

import com.fasterxml.jackson.databind.ObjectMapper;
import disco.util.ExitCodes;
import disco.util.DiscoException;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UNetConfigTest {
    private static UNetConfig parse(String json) throws IOException {
        return UNetConfig.fromJson(new ObjectMapper().readTree(json), "unet.json");
    }

    private static String bad(String json) {
        DiscoException e = assertThrows(DiscoException.class, () -> parse(json));
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        return e.getMessage();
    }

    @Test
    void defaultChannelMultDependsOnImageSize() throws IOException {
        String base = "{\"num_channels\": 256, \"num_res_blocks\": 2, \"channel_mult\": \"\", \"image_size\": ";
        assertArrayEquals(new double[] {0.5, 1, 1, 2, 2, 4, 4}, parse(base + "512}").channelMult());
        assertArrayEquals(new double[] {1, 1, 2, 2, 4, 4}, parse(base + "256}").channelMult());
        assertArrayEquals(new double[] {1, 1, 2, 3, 4}, parse(base + "128}").channelMult());
        assertArrayEquals(new double[] {1, 2, 3, 4}, parse(base + "64}").channelMult());
        assertTrue(bad(base + "96}").contains("channel_mult: no default for image_size 96"));
    }

    @Test
    void attentionResolutionsBecomeDownsampleFactors() throws IOException {
        UNetConfig c = parse("{\"image_size\": 512, \"num_channels\": 256, \"num_res_blocks\": 2,"
                + " \"attention_resolutions\": \"32, 16, 8\", \"num_head_channels\": 64}");
        assertArrayEquals(new int[] {16, 32, 64}, c.attentionDs());
        assertEquals(128, c.channels(0.5));
        assertEquals(64, c.sizeMultiple());
        assertEquals(1, c.numHeads());
        assertEquals(1, c.numHeadsUpsample(), "-1 means num_heads");
        UNetConfig d = parse("{\"image_size\": 64, \"num_channels\": 64, \"num_res_blocks\": 1,"
                + " \"channel_mult\": \"1,0.5,2\", \"learn_sigma\": true, \"num_heads\": 2, \"num_heads_upsample\": 4,"
                + " \"rescale_timesteps\": true, \"diffusion_steps\": 1000}");
        assertArrayEquals(new double[] {1, 0.5, 2}, d.channelMult());
        assertArrayEquals(new int[] {4}, d.attentionDs(), "create_model's default attention_resolutions is 16");
        assertEquals(6, d.outChannels());
        assertEquals(4, d.numHeadsUpsample());
    }

    @Test
    void badConfigsNameTheKey() {
        String ok = "\"image_size\": 64, \"num_channels\": 32, \"num_res_blocks\": 1";
        assertTrue(bad("{" + ok + ", \"num_chanels\": 3}").contains("unet.json: num_chanels: unknown key"));
        assertTrue(bad("{\"image_size\": 64, \"num_res_blocks\": 1}").contains("unet.json: num_channels: missing"));
        assertTrue(bad("{" + ok + ", \"class_cond\": true}").contains("unet.json: class_cond:"));
        assertTrue(bad("{" + ok + ", \"channel_mult\": \"1,x\"}").contains("unet.json: channel_mult:"));
        assertTrue(bad("{\"image_size\": 64, \"num_channels\": 48, \"num_res_blocks\": 1}")
                .contains("GroupNorm32 needs a positive multiple of 32"));
        assertTrue(bad("{" + ok + ", \"num_head_channels\": 24}").contains("num_head_channels"));
        assertTrue(bad("{" + ok + ", \"learn_sigma\": \"yes\"}").contains("unet.json: learn_sigma: expected true or false"));
    }
}
