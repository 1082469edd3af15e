package disco.run;

import com.fasterxml.jackson.databind.JsonNode;
import disco.cli.DemoCommand;
import disco.models.registry.Registry;
import disco.reference.Fixtures;
import disco.settings.Settings;
import disco.torch.OneThread;
import disco.torch.Torch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A demo-sized run that schedules an OpenCLIP model and an OpenAI model together: the registry names them as
 * the built-in one does (DD's flag and OpenAI's name in the settings), the files are the fixture's tiny checkpoints.
 */
@ExtendWith(OneThread.class)
class OpenClipRunTest {
    @TempDir
    Path tmp;

    @Test
    void anOpenClipAndAnOpenAiModelGuideOneRunOnTheirSchedules() throws Exception {
        Path a = Fixtures.referenceA().orElse(null);
        assumeTrue(a != null, Fixtures.missingMessage());
        Path vocab = a.resolve("../clip-vocab/bpe_simple_vocab_16e6.txt.gz").normalize();
        assumeTrue(Files.isRegularFile(vocab));
        Torch.init();
        Path models = Files.createDirectories(tmp.resolve("models"));
        // the wrapped (training-checkpoint) tiny RN as the OpenCLIP model, OpenAI's tiny ViT archive as "RN50"
        String oc = disco.reference.OpenClipReferenceChecks.modelNames(a).get(0);
        Files.copy(a.resolve("openclip-" + oc + ".pt"), models.resolve("oc.pt"));
        Files.copy(a.resolve("clip-ViT-tiny.pt"), models.resolve("RN50.pt"));
        Files.copy(vocab, models.resolve("bpe_simple_vocab_16e6.txt.gz"));
        String cfg = Files.readString(a.resolve("openclip-" + oc + ".json"));
        Path reg = tmp.resolve("registry.json");
        Files.writeString(reg, "{\"format\": 1, \"models\": ["
                + "{\"name\": \"RN50::yfcc15m\", \"kind\": \"openclip\", \"file\": \"oc.pt\", \"urls\": [\"https://example.invalid/oc.pt\"],"
                + " \"config\": " + cfg + ", \"aliases\": [\"RN50_yffcc15m\"], \"source\": \"test\"},"
                + "{\"name\": \"RN50\", \"kind\": \"clip\", \"file\": \"RN50.pt\", \"urls\": [\"https://example.invalid/a\"], \"source\": \"test\"},"
                + "{\"name\": \"bpe_simple_vocab_16e6\", \"kind\": \"vocab\", \"file\": \"bpe_simple_vocab_16e6.txt.gz\","
                + " \"urls\": [\"https://example.invalid/v\"], \"source\": \"test\"}]}");
        Settings s = DemoCommand.settings(List.of("a lighthouse:1"), 5L, 6, List.of("skip_steps=2",
                "clip_models=[RN50_yffcc15m, RN50]",
                "clip_models_schedules={\"RN50::yfcc15m\": \"0-70%\", \"RN50\": \"60%-100%\"}",
                "cut_overview=[2]*1000", "cut_innercut=[1]*1000", "use_secondary_model=false", "intermediate_saves=0"));
        Pipeline.Networks nets = ModelLoader.load(s, models, Registry.load(reg));
        assertEquals(224, nets.clips().get("RN50_yffcc15m").inputResolution(), "DD's 224 for open_clip towers");
        assertEquals("wrapped".equals(new com.fasterxml.jackson.databind.ObjectMapper().readTree(a.resolve("openclip.json").toFile())
                .path("models").path(oc).path("format").asText()), nets.clips().get("RN50_yffcc15m").openClipForm().wrapped());
        ResolvedSettings r = ResolvedSettings.of(s);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        RunLoop.Result res;
        try (Pipeline engine = Pipeline.forSettings(s, nets, PerfOptions.defaults(), new Device(torch.DeviceType.CPU), m -> {})) {
            res = new RunLoop(new PrintStream(err)).run(new RunLoop.Spec(r.settings(), r.json(), tmp.resolve("out"), null), engine);
        }
        assertTrue(res.complete(), err.toString());
        List<JsonNode> log = StepLog.read(res.outputs().logFile());
        List<List<String>> active = new ArrayList<>();
        for (JsonNode n : log) {
            List<String> x = new ArrayList<>();
            n.get("active").forEach(v -> x.add(v.asText()));
            active.add(x);
            for (String m : x) assertTrue(Double.isFinite(n.get("loss").get(m).get(0).asDouble()), n.toString());
        }
        // ddim6 after skipping 2: schedule indices 499, 666, 833, 999 → 0-70% covers the first two, 60%-100% the last three
        assertEquals(List.of(List.of("RN50_yffcc15m"), List.of("RN50_yffcc15m", "RN50"), List.of("RN50"), List.of("RN50")),
                active);
    }
}
