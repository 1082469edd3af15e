package disco.cli;

import disco.util.ExitCodes;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import disco.reference.Fixtures;
import disco.run.ResolvedSettings;
import disco.util.Npy;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bad input across every command, as a user would give it: each case asserts the exit code, exactly one line on
 * stderr naming the file / flag / key / tensor at fault (and what was expected), no stack trace, nothing on stdout,
 * nothing new in the output directory and nothing written anywhere else (the test's directory and the working
 * directory are compared before and after).
 */
class BadInputTest {
    @TempDir
    static Path tmp;
    static Path in;
    static Path out;
    /** Whether the reference fixtures (real CLIP files, the BPE vocabulary) are here for the model-file cases. */
    static boolean fixtures;
    static final ObjectMapper JSON = new ObjectMapper();

    /** One bad input: the arguments, the exit code, and what the one line must say. */
    record Case(String name, int code, List<String> expect, String... args) {
        Case(String name, int code, String expect, String... args) {
            this(name, code, List.of(expect), args);
        }
    }

    static Path in(String name) {
        return in.resolve(name);
    }

    static String p(String name) {
        return in(name).toString();
    }

    static Path write(String name, String text) throws IOException {
        Path f = in(name);
        Files.createDirectories(f.getParent());
        Files.writeString(f, text);
        return f;
    }

    @BeforeAll
    static void inputs() throws IOException {
        in = tmp.resolve("in");
        out = tmp.resolve("out");
        Files.createDirectories(in);
        String demo;
        try (var s = BadInputTest.class.getResourceAsStream(DemoCommand.SETTINGS_RESOURCE)) {
            demo = new String(s.readAllBytes(), StandardCharsets.UTF_8);
        }
        write("demo.json", demo);
        write("bad.json", "{\"steps\": 10,");
        write("bad.yml", "steps: [1, 2\n");
        write("list.json", "[1, 2]");
        write("steps.yml", "steps: ten\n");
        write("small.yml", "width_height: [32, 64]\n");
        write("model.yml", "clip_models: [ViT-H/14]\n");
        write("prompts.yml", "text_prompts: []\n");
        write("seed.yml", "seed: -1\n");
        write("sched.yml", "clip_models: [RN50]\nclip_models_schedules: {ViT-B/32: 0-50%}\n");
        write("overview.yml", "cut_overview: '[4]*999'\n");
        write("deepsched.yml", "tv_scale: '" + "(".repeat(5000) + "1" + ")".repeat(5000) + "'\n");
        write("flag.json", "{\"ViTB32\": \"yes\"}");
        write("deep.json", "{\"steps\": " + "[".repeat(100_000) + "]".repeat(100_000) + "}");
        write("batch.yml", "batch_name: ../../escape\n");
        write("junk.png", "not a png");
        // sweep files
        write("dup.yml", "grid:\n  a: [1, 2]\nset:\n  tv_scale: '{a}'\ngrid:\n  b: [3]\n");
        write("where.yml", "grid:\n  a: [1, 2]\nset:\n  tv_scale: '{a}'\nwhere: 'b > 1'\n");
        write("set.yml", "grid:\n  a: [1, 2]\nset:\n  tv_scal: '{a}'\n");
        write("unknown.yml", "gird:\n  a: [1, 2]\n");
        write("deepwhere.yml", "grid:\n  a: [1, 2]\nset:\n  tv_scale: '{a}'\nwhere: '" + "(".repeat(5000) + "a > 1"
                + ")".repeat(5000) + "'\n");
        write("seeds.yml", "seeds: [1, -5]\n");
        // model files
        write("registry.json", "{\"format\": 1, \"models\": [");
        Files.createDirectories(in("models"));
        Files.write(in("garbage.pt"), "PK this is no zip".getBytes(StandardCharsets.US_ASCII));
        Map<String, Object> clipSettings = JSON.readValue(demo, LinkedHashMap.class);
        clipSettings.remove("clip_models_schedules");
        for (String c : List.of("garbage", "clip-pos", "clip-huge")) {
            clipSettings.put("clip_models", List.of(p(c + ".pt")));
            write(c + ".json", JSON.writeValueAsString(clipSettings));
        }
        fixtures = Fixtures.referenceA().isPresent() && Fixtures.root().isPresent()
                && Files.isRegularFile(Fixtures.root().get().resolve("clip-vocab/bpe_simple_vocab_16e6.txt.gz"));
        if (fixtures) {
            Files.copy(Fixtures.root().get().resolve("clip-vocab/bpe_simple_vocab_16e6.txt.gz"),
                    in("models/bpe_simple_vocab_16e6.txt.gz"));
            Path clip = Fixtures.referenceA().get().resolve("clip-ViT-tiny.pt");
            // the text positional_embedding [77, 64] written as [76, 64] (its view stays inside its storage)
            patchPickle(clip, in("clip-pos.pt"), pkl -> {
                int at = indexOf(pkl, bytes(new int[] {'K', 77, 'K', 64}), indexOf(pkl, "positional_embedding".getBytes(StandardCharsets.US_ASCII), 0));
                pkl.set(at + 1, (byte) 76);
            });
            // its storage (4928 halfs, BININT2) claims 2^62 elements: 2^63 bytes, which overflows a long
            patchPickle(clip, in("clip-huge.pt"), pkl -> {
                int at = indexOf(pkl, bytes(new int[] {'M', 4928 & 0xff, 4928 >> 8}), indexOf(pkl, "HalfStorage".getBytes(StandardCharsets.US_ASCII), 0));
                pkl.remove(at + 2);
                pkl.remove(at + 1);
                pkl.remove(at);
                byte[] long1 = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN).put((byte) 0x8a).put((byte) 8)
                        .putLong(1L << 62).array();
                for (int i = 0; i < long1.length; i++) pkl.add(at + i, long1[i]);
            });
        }
        checkpoints();
    }

    // ------------------------------------------------------------------------------------------------ checkpoints

    static String demoJson() {
        return ResolvedSettings.of(DemoCommand.settings(null, null, null, List.of())).json();
    }

    /** A checkpoint of the demo run after its first step, written by hand so that each field can be spoiled. */
    static Path checkpoint(String name, Consumer<ObjectNode> meta, String settingsJson, Map<String, byte[]> npys)
            throws IOException {
        return checkpoint(in, name, meta, settingsJson, npys);
    }

    /** {@link #checkpoint(String, Consumer, String, Map)} under {@code root}: {@code root/ck-NAME/demo/demo(0)_checkpoint.zip}. */
    static Path checkpoint(Path root, String name, Consumer<ObjectNode> meta, String settingsJson, Map<String, byte[]> npys)
            throws IOException {
        Path dir = root.resolve("ck-" + name + "/demo");
        Files.createDirectories(dir);
        ObjectNode m = JSON.createObjectNode();
        m.put("format", 1).put("kind", "disco-run-checkpoint").put("reason", "stop-at")
                .put("run_dir", dir.toAbsolutePath().toString()).put("batch_name", "demo").put("batch_num", 0)
                .put("batch", 0).put("next_step", 1).put("steps_run", 8).put("seed", 2022);
        m.putObject("ints").put("steps_done", 1).put("old_eps", 0);
        m.putArray("tensors").add("x");
        meta.accept(m);
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("checkpoint.json", JSON.writeValueAsBytes(m));
        entries.put("settings.json", settingsJson.getBytes(StandardCharsets.UTF_8));
        entries.put("tensors/x.npy", Npy.encodeFloats(new float[3 * 64 * 64], 1, 3, 64, 64));
        entries.putAll(npys);
        Path f = dir.resolve("demo(0)_checkpoint.zip");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                z.putNextEntry(new ZipEntry(e.getKey()));
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return f;
    }

    static void checkpoints() throws IOException {
        String s = demoJson();
        checkpoint("ok", m -> {}, s, Map.of());
        checkpoint("batch", m -> m.put("batch_name", "../../escape"), s, Map.of());
        checkpoint("settingsbatch", m -> m.put("batch_name", "../../escape"),
                s.replace("\"batch_name\" : \"demo\"", "\"batch_name\" : \"../../escape\""), Map.of());
        checkpoint("shape", m -> {}, s, Map.of("tensors/x.npy", Npy.encodeFloats(new float[3 * 32 * 32], 1, 3, 32, 32)));
        checkpoint("garbage", m -> {}, s, Map.of("tensors/x.npy", "hello, world".getBytes(StandardCharsets.US_ASCII)));
        byte[] header = Npy.encodeFloats(new float[4], 4);
        header[8] = (byte) 0xff; // header length 65535 in a file of a few dozen bytes
        header[9] = (byte) 0xff;
        checkpoint("header", m -> {}, s, Map.of("tensors/x.npy", header));
        byte[] shapeText = new String(Npy.encodeFloats(new float[4], 4), StandardCharsets.ISO_8859_1)
                .replace("(4,)", "(x,)").getBytes(StandardCharsets.ISO_8859_1);
        checkpoint("dims", m -> {}, s, Map.of("tensors/x.npy", shapeText));
        checkpoint("dtype", m -> {}, s, Map.of("tensors/x.npy", Npy.encodeDoubles(new double[3 * 64 * 64], 1, 3, 64, 64)));
        checkpoint("step", m -> m.put("next_step", "abc"), s, Map.of());
        checkpoint("range", m -> m.put("next_step", 99), s, Map.of());
        checkpoint("seed", m -> m.put("seed", 7), s, Map.of());
        checkpoint("done", m -> ((ObjectNode) m.get("ints")).put("steps_done", 5), s, Map.of());
        checkpoint("format", m -> m.put("format", 9), s, Map.of());
        checkpoint("notensor", m -> m.withArray("tensors").add("old_eps.0"), s, Map.of());
        Path nojson = in("ck-nojson/demo/demo(0)_checkpoint.zip");
        Files.createDirectories(nojson.getParent());
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(nojson))) {
            z.putNextEntry(new ZipEntry("checkpoint.json"));
            z.write("{\"format\": 1,".getBytes(StandardCharsets.US_ASCII));
            z.closeEntry();
        }
        Files.write(in("notzip.zip"), "not a zip at all".getBytes(StandardCharsets.US_ASCII));
    }

    static String ck(String name) {
        return in("ck-" + name + "/demo/demo(0)_checkpoint.zip").toString();
    }

    // ------------------------------------------------------------------------------------------------ the cases

    static List<Case> cases() {
        String o = out.toString();
        String deep = "(".repeat(20_000) + "1" + ")".repeat(20_000);
        String huge = "[" + "1, ".repeat(3_000_000) + "]"; // a 9 MB value
        List<Case> c = new ArrayList<>();
        // the command line itself
        c.add(new Case("unknown command", 2, "'frobnicate'", "frobnicate"));
        c.add(new Case("unknown option", 2, "'--bogus'", "plan", "--bogus"));
        c.add(new Case("option value not an int", 2, "'--steps'", "plan", "--steps", "abc"));
        c.add(new Case("missing parameter", 2, "CHECKPOINT", "resume"));
        c.add(new Case("bench step without a source", 2, "--demo", "bench", "step"));
        c.add(new Case("models fetch without names", 2, "NAME", "models", "fetch"));
        // settings files (plan reads them and writes nothing)
        c.add(new Case("settings file missing", 2, List.of(p("none.yml"), "no such file"), "plan", "--settings", p("none.yml")));
        c.add(new Case("settings file is a directory", 2, List.of(in.toString(), "a directory"), "settings", "--settings", in.toString()));
        c.add(new Case("settings not JSON", 2, List.of(p("bad.json"), "not valid JSON"), "plan", "--settings", p("bad.json")));
        c.add(new Case("settings not YAML", 2, List.of(p("bad.yml"), "not valid YAML"), "plan", "--settings", p("bad.yml")));
        c.add(new Case("settings a list", 2, List.of(p("list.json"), "expected a mapping"), "plan", "--settings", p("list.json")));
        c.add(new Case("steps not a number", 2, List.of(p("steps.yml"), "steps"), "plan", "--settings", p("steps.yml")));
        c.add(new Case("size too small", 2, List.of(p("small.yml"), "width_height"), "plan", "--settings", p("small.yml")));
        c.add(new Case("unknown CLIP model", 2, List.of(p("model.yml"), "ViT-H/14"), "plan", "--settings", p("model.yml")));
        c.add(new Case("no prompts", 2, List.of(p("prompts.yml"), "text_prompts"), "settings", "--settings", p("prompts.yml")));
        c.add(new Case("negative seed", 2, List.of(p("seed.yml"), "seed"), "settings", "--settings", p("seed.yml")));
        c.add(new Case("schedule of a model not listed", 2, List.of(p("sched.yml"), "clip_models_schedules", "ViT-B/32"),
                "plan", "--settings", p("sched.yml")));
        c.add(new Case("schedule of 999 entries", 2, List.of(p("overview.yml"), "cut_overview", "999 entries"),
                "plan", "--settings", p("overview.yml")));
        c.add(new Case("schedule nested 5000 deep in a file", 2, List.of(p("deepsched.yml"), "tv_scale", "nested more than"),
                "plan", "--settings", p("deepsched.yml")));
        c.add(new Case("DD model flag not a boolean", 2, List.of(p("flag.json"), "ViTB32"), "plan", "--settings", p("flag.json")));
        c.add(new Case("JSON nested 100000 deep", 2, List.of(p("deep.json"), "nesting depth"), "plan", "--settings", p("deep.json")));
        c.add(new Case("batch_name a path, in a file", 2, List.of(p("batch.yml"), "batch_name"), "plan", "--settings", p("batch.yml")));
        // flags
        c.add(new Case("--size without x", 2, "--size", "plan", "--size", "64"));
        c.add(new Case("--size beyond any GPU", 2, List.of("--size", "at most 8192"), "plan", "--size", "100000x100000"));
        c.add(new Case("--size overflowing an int", 2, "--size", "plan", "--size", "99999999999x64"));
        c.add(new Case("--size too small", 2, "width_height", "plan", "--size", "32x32"));
        c.add(new Case("--set without =", 2, "--set", "plan", "--set", "novalue"));
        c.add(new Case("--set unknown key (plan)", 2, List.of("--set", "'foo'", "unknown settings key"), "plan", "--set", "foo=1"));
        c.add(new Case("--set misspelled key", 2, "did you mean clip_guidance_scale", "settings", "--set", "clip_guidance_scal=1"));
        c.add(new Case("--set entry of a plain key", 2, "is not a mapping", "plan", "--set", "width_height.x=1"));
        c.add(new Case("--set schedule of a model not listed", 2, List.of("command line", "clip_models_schedules", "NOPE"),
                "plan", "--set", "clip_models_schedules.NOPE=0-10%"));
        c.add(new Case("--set schedulable key not a schedule", 2, List.of("command line", "use_secondary_model", "maybe"),
                "plan", "--set", "use_secondary_model=maybe"));
        c.add(new Case("--set a 9 MB bad value", 2, List.of("command line", "cut_overview", "\u2026"), "plan", "--set", "cut_overview=" + huge));
        c.add(new Case("--schedule without =", 2, "--schedule", "plan", "--schedule", "RN50"));
        c.add(new Case("--schedule nested 20000 deep", 2, List.of("clip_models_schedules", "nested more than"),
                "plan", "--clip-model", "RN50", "--schedule", "RN50=" + deep));
        c.add(new Case("--set schedule nested 20000 deep", 2, List.of("tv_scale", "nested more than"), "plan", "--set", "tv_scale=" + deep));
        c.add(new Case("--steps 0", 2, "steps", "plan", "--steps", "0"));
        c.add(new Case("--steps a million", 2, List.of("steps", "at most"), "plan", "--steps", "1000000"));
        c.add(new Case("--skip-steps beyond --steps", 2, "skip_steps", "plan", "--steps", "10", "--skip-steps", "50"));
        c.add(new Case("--clip-model unknown", 2, "NOPE", "settings", "--clip-model", "NOPE"));
        c.add(new Case("--prompt weight not a number", 2, List.of("text_prompts", "weight"), "plan", "--prompt", "a cat:abc"));
        // run and demo: refused before anything is written under --out
        c.add(new Case("run: --device tpu", 2, "--device", "run", "--settings", p("demo.json"), "--device", "tpu", "--out", o));
        c.add(new Case("run: --stop-at not a count", 2, "--stop-at", "run", "--settings", p("demo.json"), "--stop-at", "abc", "--out", o));
        c.add(new Case("run: batch_name ../../escape", 2, "batch_name", "run", "--settings", p("demo.json"), "--set",
                "batch_name=../../escape", "--out", o));
        c.add(new Case("run: init_image not an image", 2, p("junk.png"), "run", "--settings", p("demo.json"), "--set",
                "init_image=" + p("junk.png"), "--out", o));
        c.add(new Case("run: image prompt file missing", 2, List.of("image prompt not found", p("nothere.png")), "run",
                "--settings", p("demo.json"), "--set", "skip_augs=true", "--set", "image_prompts=['" + p("nothere.png")
                + ":2']", "--out", o));
        c.add(new Case("run: image prompt not an image", 2, List.of("image prompt", p("junk.png")), "run",
                "--settings", p("demo.json"), "--set", "skip_augs=true", "--set", "image_prompts=['" + p("junk.png")
                + "']", "--out", o));
        c.add(new Case("run: image prompt without skip_augs", 2, List.of("image_prompts", "skip_augs"), "run",
                "--settings", p("demo.json"), "--set", "image_prompts=['" + p("junk.png") + "']", "--out", o));
        c.add(new Case("run: image prompt URL", 2, List.of("image_prompts", "local image files"), "run",
                "--settings", p("demo.json"), "--set", "skip_augs=true", "--set",
                "image_prompts=['https://example.com/a.png:1']", "--out", o));
        c.add(new Case("run: model file missing", 2, List.of("missing model file", "disco models fetch"), "run", "--model-dir",
                p("models"), "--out", o));
        c.add(new Case("run: a batch too large", 2, List.of("width_height", "batch_size", "too large"), "run", "--settings",
                p("demo.json"), "--size", "8192x8192", "--set", "batch_size=64", "--out", o));
        c.add(new Case("run: --set unknown key", 2, "unknown settings key", "run", "--settings", p("demo.json"), "--set", "foo=1", "--out", o));
        c.add(new Case("run: CLIP file not a checkpoint", 2, p("garbage.pt"), "run", "--settings", p("garbage.json"),
                "--model-dir", p("models"), "--out", o));
        c.add(new Case("demo: --set unknown key", 2, "unknown settings key", "demo", "--set", "foo=1", "--out", o));
        c.add(new Case("demo: --steps 1", 2, "steps", "demo", "--steps", "1", "--out", o));
        c.add(new Case("demo: schedule of a model not listed", 2, "clip_models_schedules", "demo", "--set",
                "clip_models_schedules.RN50=0-10%", "--out", o));
        // resume: every field of the checkpoint
        c.add(new Case("resume: no such checkpoint", 2, List.of(p("none.zip"), "not found"), "resume", p("none.zip")));
        c.add(new Case("resume: not a zip", 2, p("notzip.zip"), "resume", p("notzip.zip")));
        c.add(new Case("resume: checkpoint.json not JSON", 2, List.of("checkpoint.json", "not valid JSON"), "resume", ck("nojson")));
        c.add(new Case("resume: format", 2, List.of("checkpoint.json", "format"), "resume", ck("format")));
        c.add(new Case("resume: batch_name ../../escape", 2, List.of(ck("batch"), "batch_name"), "resume", ck("batch")));
        c.add(new Case("resume: settings batch_name ../../escape", 2, List.of("settings.json", "batch_name"), "resume", ck("settingsbatch")));
        c.add(new Case("resume: x of the wrong shape", 2, List.of("tensors/x.npy", "expected shape"), "resume", ck("shape")));
        c.add(new Case("resume: x not a .npy", 2, List.of("tensors/x.npy", "not a .npy"), "resume", ck("garbage")));
        c.add(new Case("resume: .npy header past the end", 2, List.of("tensors/x.npy", "header"), "resume", ck("header")));
        c.add(new Case("resume: .npy shape not numbers", 2, List.of("tensors/x.npy", "shape"), "resume", ck("dims")));
        c.add(new Case("resume: x float64", 2, List.of("tensors/x.npy", "float32"), "resume", ck("dtype")));
        c.add(new Case("resume: next_step not a number", 2, List.of("checkpoint.json", "next_step"), "resume", ck("step")));
        c.add(new Case("resume: next_step past the run", 2, List.of("checkpoint.json", "next_step"), "resume", ck("range")));
        c.add(new Case("resume: seed not the run's", 2, List.of("checkpoint.json", "seed"), "resume", ck("seed")));
        c.add(new Case("resume: steps_done not next_step", 2, List.of("checkpoint.json", "steps_done"), "resume", ck("done")));
        c.add(new Case("resume: a listed tensor missing", 2, List.of("tensors/old_eps.0.npy", "missing"), "resume", ck("notensor")));
        c.add(new Case("resume: --set unknown key", 2, "unknown settings key", "resume", ck("ok"), "--set", "foo=1"));
        c.add(new Case("resume: --set steps", 2, List.of("steps", "cannot change"), "resume", ck("ok"), "--set", "steps=5"));
        c.add(new Case("resume: --set entry of a fixed key", 2, List.of("diffusion_model_config", "cannot change"), "resume",
                ck("ok"), "--set", "diffusion_model_config.x=1"));
        c.add(new Case("resume: --schedule of a model not listed", 2, List.of("clip_models_schedules", "NOPE"), "resume",
                ck("ok"), "--schedule", "NOPE=0-10%"));
        c.add(new Case("resume: --run-dir missing", 2, "--run-dir", "resume", ck("ok"), "--run-dir", p("nowhere")));
        // sweep
        c.add(new Case("sweep: --where nested 20000 deep", 2, List.of("--where", "nested more than"), "sweep", "--grid", "a=1,2",
                "--set", "tv_scale={a}", "--where", "(".repeat(20_000) + "a > 1" + ")".repeat(20_000), "--dry-run", "--out", o));
        c.add(new Case("sweep: --where a chain of 50000 operators", 2, List.of("--where", "nested more than"), "sweep", "--grid",
                "a=1,2", "--set", "tv_scale={a}", "--where", "a" + " + 1".repeat(50_000) + " > 1", "--dry-run", "--out", o));
        c.add(new Case("sweep: --where unknown variable", 2, List.of("--where", "unknown variable 'b'"), "sweep", "--grid", "a=1,2",
                "--set", "tv_scale={a}", "--where", "b > 1", "--dry-run", "--out", o));
        c.add(new Case("sweep: --where overflowing", 2, List.of("--where", "integer overflow"), "sweep", "--grid", "a=1,2",
                "--set", "tv_scale={a}", "--where", "a * 9223372036854775807 > 1", "--dry-run", "--out", o));
        c.add(new Case("sweep: --set unknown key", 2, List.of("--set", "unknown settings key"), "sweep", "--grid", "a=1,2",
                "--set", "tv_scal={a}", "--dry-run", "--out", o));
        c.add(new Case("sweep: --grid bad range", 2, "--grid", "sweep", "--grid", "a=0:10:0", "--dry-run", "--out", o));
        c.add(new Case("sweep: --shard 3/2", 2, "--shard", "sweep", "--grid", "a=1,2", "--set", "tv_scale={a}", "--shard", "3/2",
                "--dry-run", "--out", o));
        c.add(new Case("sweep: duplicate key in the file", 2, List.of(p("dup.yml"), "duplicate"), "sweep", p("dup.yml"), "--dry-run", "--out", o));
        c.add(new Case("sweep: the file's where", 2, List.of(p("where.yml") + ": where", "unknown variable 'b'"), "sweep",
                p("where.yml"), "--dry-run", "--out", o));
        c.add(new Case("sweep: the file's deep where", 2, List.of(p("deepwhere.yml") + ": where", "nested more than"), "sweep",
                p("deepwhere.yml"), "--dry-run", "--out", o));
        c.add(new Case("sweep: the file's set", 2, List.of(p("set.yml") + ": set", "'tv_scal'", "unknown settings key"), "sweep",
                p("set.yml"), "--dry-run", "--out", o));
        c.add(new Case("sweep: unknown key in the file", 2, List.of(p("unknown.yml"), "gird"), "sweep", p("unknown.yml"), "--dry-run", "--out", o));
        c.add(new Case("sweep: the file's seeds", 2, List.of(p("seeds.yml") + ": seeds", "-5"), "sweep", p("seeds.yml"), "--dry-run", "--out", o));
        c.add(new Case("sweep: --collect with no runs", 2, List.of("--collect", "none of the sweep's 2 runs"), "sweep", "--grid",
                "a=1,2", "--set", "tv_scale={a}", "--seeds", "1", "--collect", "--out", o));
        // models, bench, verify-reference
        c.add(new Case("models: unknown model", 2, "NOPE", "models", "fetch", "--model-dir", p("models"), "NOPE"));
        c.add(new Case("models: registry missing", 2, p("none.json"), "models", "list", "--registry", p("none.json")));
        c.add(new Case("models: registry not JSON", 2, p("registry.json"), "models", "list", "--registry", p("registry.json")));
        c.add(new Case("bench kernels: --reps 0", 2, "--reps", "bench", "kernels", "--reps", "0"));
        c.add(new Case("bench step: --steps 0", 2, "--steps", "bench", "step", "--demo", "--steps", "0"));
        c.add(new Case("verify-reference: not a directory", 2, List.of(p("none"), "not a directory"), "verify-reference", p("none")));
        c.add(new Case("verify-reference: no settings.json", 2, List.of(p("models"), "settings.json"), "verify-reference", p("models")));
        return c;
    }

    /** Model files damaged in ways only a real checkpoint shows (they need the reference fixtures). */
    static List<Case> modelFileCases() {
        String o = out.toString();
        return List.of(
                new Case("run: CLIP positional_embedding of 76 rows", 2, List.of(p("clip-pos.pt"), "positional_embedding", "77"),
                        "run", "--settings", p("clip-pos.json"), "--model-dir", p("models"), "--out", o),
                new Case("run: CLIP storage whose byte size overflows", 2, List.of(p("clip-huge.pt"), "storage data/0", "overflow"),
                        "run", "--settings", p("clip-huge.json"), "--model-dir", p("models"), "--out", o));
    }

    @TestFactory
    Stream<DynamicTest> everyBadInputIsOneLineAndWritesNothing() {
        List<Case> all = cases();
        assertTrue(all.size() >= 60, "the suite covers at least 60 cases, has " + all.size());
        return all.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c)));
    }

    @TestFactory
    Stream<DynamicTest> damagedModelFiles() {
        return modelFileCases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            Assumptions.assumeTrue(fixtures, Fixtures.missingMessage());
            check(c);
        }));
    }

    static void check(Case c) throws IOException {
        Map<String, String> before = snapshot(tmp);
        Map<String, String> cwdBefore = snapshot1(Path.of("").toAbsolutePath());
        CliRun.Result r = CliRun.exec(c.args());
        String what = c.name() + "\nstderr: " + abbreviate(r.stderr()) + "\nstdout: " + abbreviate(r.stdout());
        assertEquals(c.code(), r.code(), what);
        List<String> lines = r.stderr().strip().lines().toList();
        assertEquals(1, lines.size(), "exactly one line on stderr: " + what);
        String line = lines.get(0);
        assertTrue(line.startsWith("disco: "), what);
        for (String e : c.expect()) assertTrue(line.contains(e), "the line names '" + e + "': " + what);
        assertFalse(line.contains("Exception") || line.contains("\tat ") || line.contains("internal error"),
                "no stack trace or internal error: " + what);
        assertTrue(line.length() < 1000, "a bad value is abbreviated: " + line.length() + " characters: " + line.substring(0, Math.min(300, line.length())));
        assertEquals("", r.stdout(), what);
        assertFalse(Files.exists(out), "nothing written under --out: " + what);
        assertEquals(before, snapshot(tmp), "nothing written anywhere: " + what);
        assertEquals(cwdBefore, snapshot1(Path.of("").toAbsolutePath()), "nothing written in the working directory: " + what);
    }

    // ------------------------------------------------------------------------------------------------ the rest

    @Test
    void discoAloneIsAUsageError() {
        CliRun.Result r = CliRun.exec();
        assertEquals(ExitCodes.BAD_INPUT, r.code());
        assertTrue(r.stderr().startsWith("Usage: disco"), r.stderr());
        assertEquals("", r.stdout());
        for (String parent : List.of("bench", "models")) {
            CliRun.Result p = CliRun.exec(parent);
            assertEquals(ExitCodes.BAD_INPUT, p.code(), parent);
            assertTrue(p.stderr().startsWith("Usage: disco " + parent), p.stderr());
        }
    }

    @Test
    void helpWorksOnEveryCommandWithoutFormatWarnings() {
        List<List<String>> paths = new ArrayList<>();
        paths.add(List.of());
        collect(Main.commandLine(), new ArrayList<>(), paths);
        assertTrue(paths.size() >= 16, "every command and subcommand: " + paths);
        for (List<String> path : paths) {
            for (String flag : List.of("--help", "-h")) {
                List<String> args = new ArrayList<>(path);
                args.add(flag);
                CliRun.Result r = CliRun.exec(args.toArray(String[]::new));
                assertEquals(0, r.code(), args + ": " + r.stderr());
                assertTrue(r.stdout().startsWith("Usage: disco"), args + ": " + r.stdout());
                assertEquals("", r.stderr(), args + ": no picocli warning");
                assertFalse(r.stdout().contains("%%") || r.stdout().contains("%n"), args + ": a description picocli did"
                        + " not format: " + r.stdout().lines().filter(l -> l.contains("%")).toList());
            }
        }
        CliRun.Result run = CliRun.exec("run", "--help");
        assertTrue(run.stdout().replaceAll("\\s+", " ").contains("'ViT-L/14=20%-100%' (repeatable)"), run.stdout());
    }

    private static void collect(picocli.CommandLine cl, List<String> path, List<List<String>> out) {
        for (Map.Entry<String, picocli.CommandLine> e : new TreeMap<>(cl.getSubcommands()).entrySet()) {
            if (e.getKey().equals("help")) continue;
            if (!e.getValue().getCommandName().equals(e.getKey())) continue; // an alias
            List<String> p = new ArrayList<>(path);
            p.add(e.getKey());
            out.add(p);
            collect(e.getValue(), p, out);
        }
    }

    @Test
    void anUnexpectedFailureIsOneLineAskingForAReportAndTheTraceOnlyWithDebug() {
        CliRun.Result r = capture(err -> Main.report(new IllegalStateException("boom\nsecond line"), false, err));
        assertEquals(ExitCodes.INTERNAL, r.code());
        List<String> lines = r.stderr().strip().lines().toList();
        assertEquals(1, lines.size(), r.stderr());
        assertTrue(lines.get(0).contains("internal error") && lines.get(0).contains("please report")
                && lines.get(0).contains("--debug"), lines.get(0));
        CliRun.Result d = capture(err -> Main.report(new IllegalStateException("boom"), true, err));
        assertTrue(d.stderr().contains("\tat disco.cli.BadInputTest"), "--debug prints the trace: " + d.stderr());
        CliRun.Result so = capture(err -> Main.report(new picocli.CommandLine.ExecutionException(Main.commandLine(), "x",
                new StackOverflowError()), false, err));
        assertEquals(ExitCodes.INTERNAL, so.code());
        assertEquals(1, so.stderr().strip().lines().count(), so.stderr());
        // --debug is accepted by every command (and adds the trace to an error)
        CliRun.Result bad = CliRun.exec("plan", "--debug", "--steps", "0");
        assertEquals(ExitCodes.BAD_INPUT, bad.code());
        assertTrue(bad.stderr().startsWith("disco: ") && bad.stderr().contains("\tat "), bad.stderr());
    }

    /** What {@code body} writes to the error writer it is given, and the code it returns (System.err untouched). */
    private static CliRun.Result capture(java.util.function.ToIntFunction<java.io.PrintWriter> body) {
        java.io.StringWriter err = new java.io.StringWriter();
        int code = body.applyAsInt(new java.io.PrintWriter(err));
        return new CliRun.Result(code, "", err.toString());
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** Every file under {@code root} with its size and modification time. */
    static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> m = new TreeMap<>();
        if (!Files.exists(root)) return m;
        try (Stream<Path> s = Files.walk(root)) {
            for (Path f : s.toList()) {
                m.put(root.relativize(f).toString(), Files.isDirectory(f) ? "dir"
                        : Files.size(f) + "@" + Files.getLastModifiedTime(f).toMillis());
            }
        }
        return m;
    }

    /** The names directly in {@code dir}. */
    static Map<String, String> snapshot1(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.toList()) m.put(f.getFileName().toString(), Files.isDirectory(f) ? "dir" : "file");
        }
        return m;
    }

    static String abbreviate(String s) {
        return s.length() <= 2000 ? s : s.substring(0, 2000) + "...";
    }

    static byte[] bytes(int[] v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    static int indexOf(List<Byte> hay, byte[] needle, int from) {
        outer:
        for (int i = Math.max(0, from); i <= hay.size() - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay.get(i + j) != needle[j]) continue outer;
            return i;
        }
        throw new IllegalStateException("pattern not found in the pickle: " + Arrays.toString(needle));
    }

    /** Copies a torch zip checkpoint, editing its data.pkl. */
    static void patchPickle(Path src, Path dst, Consumer<List<Byte>> edit) throws IOException {
        try (ZipFile z = new ZipFile(src.toFile()); ZipOutputStream o = new ZipOutputStream(Files.newOutputStream(dst))) {
            for (ZipEntry e : java.util.Collections.list(z.entries())) {
                byte[] b = z.getInputStream(e).readAllBytes();
                if (e.getName().endsWith("/data.pkl")) {
                    List<Byte> l = new ArrayList<>();
                    for (byte x : b) l.add(x);
                    edit.accept(l);
                    b = new byte[l.size()];
                    for (int i = 0; i < b.length; i++) b[i] = l.get(i);
                }
                o.putNextEntry(new ZipEntry(e.getName()));
                o.write(b);
                o.closeEntry();
            }
        }
    }
}
