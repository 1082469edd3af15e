package disco.models.registry;

import com.fasterxml.jackson.databind.ObjectMapper;
import disco.util.ExitCodes;
import disco.reference.Fixtures;
import disco.util.DiscoException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

class RegistryTest {
    @TempDir
    Path tmp;

    static final List<String> OFFICIAL = List.of(
            "512x512_diffusion_uncond_finetune_008100", "256x256_diffusion_uncond", "secondary_model_imagenet_2",
            "portrait_generator_v001", "pixelartdiffusion_expanded", "pixel_art_diffusion_hard_256",
            "pixel_art_diffusion_soft_256", "pixelartdiffusion4k", "watercolordiffusion", "watercolordiffusion_2",
            "PulpSciFiDiffusion", "RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B/32", "ViT-B/16", "ViT-L/14",
            "ViT-L/14@336px", "bpe_simple_vocab_16e6", "vgg16", "lpips_vgg",
            // DiscoArt's models.yml only
            "portrait_generator_v1.5", "FeiArt_Handpainted_CG_Diffusion", "Ukiyo-e_Diffusion_All_V1.by_thegenerativegeneration",
            "IsometricDiffusionRevrart512px", "256x256_openai_comics_faces_v2.by_alex_spirin_114k");

    /**
     * Configs that only DiscoArt's models.yml gives and the architecture fixtures do not cover (no manifest was built
     * for them): every other config must equal its fixture.
     */
    static final Set<String> CONFIGS_WITHOUT_FIXTURE = Set.of("unet-ukiyoe_256");

    @Test
    void builtinRegistryHasEveryOfficialFile() {
        Registry r = Registry.builtin();
        assertEquals(Set.copyOf(OFFICIAL), r.entries().stream().filter(e -> !e.kind().equals(ModelEntry.OPENCLIP))
                .map(ModelEntry::name).collect(Collectors.toSet()));
        for (ModelEntry e : r.entries()) {
            assertFalse(e.urls().isEmpty(), e.name());
            assertNotNull(e.source(), e.name());
            // every official file has a published sha256, but torchvision's vgg16 whose name carries its prefix
            if (e.name().equals("vgg16")) {
                assertNull(e.sha256());
                assertEquals("397923af", e.sha256Prefix());
                assertEquals("vgg16-" + e.sha256Prefix() + ".pth", e.file(), "torch.hub's name-<sha256 prefix>.pth");
                assertTrue(e.hasPublishedHash());
            } else {
                assertTrue(e.hasPublishedHash(), e.name() + ": every official file has a published sha256 (or its prefix)");
            }
            for (ModelSource s : e.urls()) {
                assertTrue(s.url().startsWith("https://"), s.url());
                assertNotNull(s.source(), s.url());
            }
            assertFalse(e.isCustom());
        }
        assertEquals(Set.of(ModelEntry.DIFFUSION, ModelEntry.SECONDARY, ModelEntry.CLIP, ModelEntry.VOCAB, ModelEntry.OPENCLIP,
                ModelEntry.LPIPS),
                r.entries().stream().map(ModelEntry::kind).collect(Collectors.toSet()));
        assertEquals(List.of("512x512_diffusion_uncond_finetune_008100", "secondary_model_imagenet_2", "ViT-B/32", "ViT-B/16",
                "RN50", "bpe_simple_vocab_16e6"), r.defaults().stream().map(ModelEntry::name).toList());
    }

    @Test
    void clipHashesAreThoseInOpenAisUrls() {
        Registry r = Registry.builtin();
        for (ModelEntry e : r.entries()) {
            if (!e.kind().equals(ModelEntry.CLIP)) continue;
            for (ModelSource s : e.urls()) {
                String[] parts = URI.create(s.url()).getPath().split("/");
                assertEquals(e.sha256(), parts[parts.length - 2], s.url());
                assertEquals(e.file(), parts[parts.length - 1], s.url());
            }
        }
    }

    @Test
    void namesAndAliasesResolveExactly() {
        Registry r = Registry.builtin();
        assertEquals("ViT-B/32", r.find("ViT-B/32").orElseThrow().name());
        assertEquals("ViT-B/32", r.find("ViTB32").orElseThrow().name());
        assertEquals("ViT-L/14@336px", r.find("ViTL14_336px").orElseThrow().name());
        assertEquals("secondary_model_imagenet_2", r.find("secondary").orElseThrow().name());
        assertTrue(r.find("vit-b/32").isEmpty(), "lookup is exact; spelling variants belong to the settings layer");
        DiscoException ex = assertThrows(DiscoException.class, () -> r.require("ViT-H/14"));
        assertEquals(ExitCodes.BAD_INPUT, ex.exitCode());
        assertTrue(ex.getMessage().contains("no model named 'ViT-H/14'") && ex.getMessage().contains("ViT-B/32"), ex.getMessage());
    }

    @Test
    void everyClipModelTheSettingsKnowIsInTheRegistry() {
        Registry r = Registry.builtin();
        for (Map.Entry<String, String> m : disco.settings.ClipModelName.OPENAI.entrySet()) {
            ModelEntry e = r.find(m.getKey()).orElseThrow(() -> new AssertionError(m.getKey() + " missing from the registry"));
            assertEquals(ModelEntry.CLIP, e.kind());
            assertEquals(m.getKey(), e.name(), "the settings' canonical name is the registry's name");
            assertEquals(e, r.find(m.getValue()).orElseThrow(), "DD's flag " + m.getValue() + " is an alias");
        }
    }

    @Test
    void everyOpenClipModelTheSettingsKnowIsInTheRegistryWithItsConfigAndHashPrefix() {
        Registry r = Registry.builtin();
        Set<String> names = r.entries().stream().filter(e -> e.kind().equals(ModelEntry.OPENCLIP)).map(ModelEntry::name)
                .collect(Collectors.toSet());
        assertEquals(disco.settings.ClipModelName.OPEN_CLIP.keySet(), names);
        for (Map.Entry<String, String> m : disco.settings.ClipModelName.OPEN_CLIP.entrySet()) {
            ModelEntry e = r.require(m.getKey());
            if (!m.getValue().isEmpty()) assertEquals(e, r.find(m.getValue()).orElseThrow(), "DD's flag " + m.getValue());
            String arch = m.getKey().substring(0, m.getKey().indexOf("::"));
            assertEquals(arch, e.configName());
            disco.models.clip.ClipConfig c = disco.models.clip.OpenClipConfig.parse(new ObjectMapper().valueToTree(e.config()), e.name());
            assertEquals(arch.contains("quickgelu"), c.quickGelu(), e.name() + ": open_clip's config name decides the activation");
            assertNull(e.sha256());
            // open_clip's release names end in the sha256's first 8 hex digits
            assertEquals(1, e.urls().size());
            String file = URI.create(e.urls().get(0).url()).getPath().replaceAll(".*/", "");
            assertEquals(e.file(), file);
            assertTrue(file.matches(".*-" + e.sha256Prefix() + "\\.pth?"), file);
            assertTrue(e.hashMatches(e.sha256Prefix() + "0".repeat(64 - e.sha256Prefix().length())));
            assertFalse(e.hashMatches("f".repeat(64)));
        }
        assertEquals(224, disco.models.clip.OpenClipConfig.parse(new ObjectMapper().valueToTree(r.require("RN50::yfcc15m").config()), "rn").imageResolution());
    }

    @Test
    void diffusionModelsCarryTheirConfigs() {
        Registry r = Registry.builtin();
        ModelEntry m512 = r.require("512x512_diffusion_uncond_finetune_008100");
        assertEquals(512, m512.config().get("image_size"));
        assertEquals(64, m512.config().get("num_head_channels"));
        assertEquals(1000, m512.diffusion().get("diffusion_steps"));
        for (String k : List.of("pixelartdiffusion_expanded", "watercolordiffusion", "PulpSciFiDiffusion")) {
            ModelEntry e = r.require(k);
            assertEquals("unet-kaliyuga_256", e.configName(), k);
            assertEquals("16", e.config().get("attention_resolutions"), k);
            assertEquals(false, e.config().get("use_scale_shift_norm"), k);
        }
        assertNull(r.require("secondary_model_imagenet_2").config());
        // DiscoArt's models.yml: portrait v1.5 has v001's config; FeiArt and Isometric the 512 uncond one; Ukiyo-e a
        // 256x256 with 128 channels and 4 heads; the comics faces model DiscoArt's fallback (= the KaliYuga config)
        assertEquals("unet-portrait_generator_v001", r.require("portrait_generator_v1.5").configName());
        assertEquals("unet-512x512_diffusion_uncond_finetune_008100", r.require("FeiArt_Handpainted_CG_Diffusion").configName());
        assertEquals("unet-512x512_diffusion_uncond_finetune_008100", r.require("IsometricDiffusionRevrart512px").configName());
        ModelEntry uk = r.require("Ukiyo-e_Diffusion_All_V1.by_thegenerativegeneration");
        assertEquals(256, uk.config().get("image_size"));
        assertEquals(128, uk.config().get("num_channels"));
        assertEquals(4, uk.config().get("num_heads"));
        assertEquals(-1, uk.config().get("num_head_channels"));
        assertEquals("32, 16, 8", uk.config().get("attention_resolutions"));
        assertEquals("unet-kaliyuga_256", r.require("256x256_openai_comics_faces_v2.by_alex_spirin_114k").configName());
        assertEquals("ema_0.9999_165000.pt", r.require("portrait_generator_v1.5").file());
    }

    @Test
    void configsEqualTheArchitectureFixtures() throws IOException {
        Path arch = Fixtures.root().map(p -> p.resolve("architectures")).filter(Files::isDirectory).orElse(null);
        Assumptions.assumeTrue(arch != null, Fixtures.missingMessage());
        Registry r = Registry.builtin();
        ObjectMapper json = new ObjectMapper();
        for (Map.Entry<String, Map<String, Object>> c : r.configs().entrySet()) {
            Path f = arch.resolve(c.getKey() + ".config.json");
            if (CONFIGS_WITHOUT_FIXTURE.contains(c.getKey())) {
                assertFalse(Files.isRegularFile(f), f + " exists now: check the config against it");
                continue;
            }
            assertTrue(Files.isRegularFile(f), f.toString());
            @SuppressWarnings("unchecked")
            Map<String, Object> expected = json.readValue(f.toFile(), LinkedHashMap.class);
            assertEquals(expected, c.getValue(), c.getKey());
        }
        for (ModelEntry e : r.entries()) {
            if (e.configName() != null && !e.kind().equals(ModelEntry.OPENCLIP)
                    && !CONFIGS_WITHOUT_FIXTURE.contains(e.configName())) {
                assertTrue(Files.isRegularFile(arch.resolve(e.configName() + ".json")), e.name());
            }
            if (e.architecture() != null) assertTrue(Files.isRegularFile(arch.resolve(e.architecture() + ".json")), e.name());
        }
    }

    @Test
    void vocabularyHashAndSizeMatchTheRealFile() throws IOException {
        Path vocab = Fixtures.root().map(p -> p.resolve("clip-vocab/bpe_simple_vocab_16e6.txt.gz")).filter(Files::isRegularFile).orElse(null);
        Assumptions.assumeTrue(vocab != null, Fixtures.missingMessage());
        ModelEntry e = Registry.builtin().require("bpe_simple_vocab_16e6");
        assertEquals(Sha256.of(vocab), e.sha256());
        assertEquals(Files.size(vocab), e.size());
    }

    // ---- bad registry files: one line naming the file, the entry and the field

    Path write(String json) throws IOException {
        Path f = tmp.resolve("reg.json");
        Files.writeString(f, json);
        return f;
    }

    static String one(String fields) {
        return "{\"format\": 1, \"models\": [{\"name\": \"x\", \"kind\": \"clip\", \"file\": \"x.pt\", \"source\": \"s\", " + fields + "}]}";
    }

    void bad(String json, String... expected) throws IOException {
        Path f = write(json);
        DiscoException e = assertThrows(DiscoException.class, () -> Registry.load(f));
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        for (String x : expected) assertTrue(e.getMessage().contains(x), e.getMessage() + " should contain " + x);
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void badRegistriesAreRejectedWithTheField() throws IOException {
        bad("{", "not valid JSON");
        bad("{\"format\": 2, \"models\": []}", "format: expected 1");
        bad(one("\"urls\": [\"https://a/x.pt\"], \"sha256\": \"ABC\""), "models[0] (x): sha256: expected 64 lowercase hex digits");
        bad(one("\"urls\": []"), "models[0] (x): urls: expected at least one download URL");
        bad(one("\"urls\": [\"ftp://a/x.pt\"]"), "urls[0]: expected an http(s) URL");
        bad(one("\"urls\": [\"https://a/x.pt\"], \"size\": -1"), "size: expected a byte count");
        bad(one("\"urls\": [\"https://a/x.pt\"], \"config\": \"nope\""), "config: 'nope' is not in configs");
        bad(one("\"urls\": [\"https://a/x.pt\"], \"colour\": 1"), "unknown key 'colour'");
        bad(one("\"urls\": [\"https://a/x.pt\"], \"kind\": \"vae\"").replace("\"kind\": \"clip\", ", ""), "kind: expected one of");
        bad(one("\"urls\": [\"https://a/x.pt\"]").replace("\"x.pt\"", "\"../x.pt\""), "file: expected a plain file name");
        bad("{\"format\": 1, \"models\": [{\"name\": \"x\", \"kind\": \"diffusion\", \"file\": \"x.pt\", \"source\": \"s\", \"urls\": [\"https://a/x.pt\"]}]}",
                "config: a diffusion model needs its create_model config");
        bad("{\"format\": 1, \"models\": [{\"name\": \"x\", \"kind\": \"clip\", \"file\": \"x.pt\", \"source\": \"s\", \"urls\": [\"https://a/x.pt\"]},"
                + "{\"name\": \"y\", \"kind\": \"clip\", \"file\": \"y.pt\", \"source\": \"s\", \"urls\": [\"https://a/y.pt\"], \"aliases\": [\"x\"]}]}",
                "'x' is used by both x and y");
        bad("{\"format\": 1, \"defaults\": [\"z\"], " + one("\"urls\": [\"https://a/x.pt\"]").substring(14), "defaults: 'z' is not a model");
    }

    /** A published sha256 prefix (torch.hub's file-name rule) verifies a file as torch.hub does: by its prefix. */
    @Test
    void sha256PrefixVerifiesByPrefix() throws IOException {
        Path models = tmp.resolve("pm");
        java.nio.file.Files.createDirectories(models);
        java.nio.file.Files.writeString(models.resolve("x.pt"), "hello");
        String sha = Sha256.of(models.resolve("x.pt"));
        Registry ok = Registry.load(write(one("\"urls\": [\"https://a/x.pt\"], \"sha256_prefix\": \"" + sha.substring(0, 8) + "\"")));
        ModelEntry e = ok.require("x");
        assertTrue(e.hasPublishedHash() && e.hashMatches(sha) && !e.hashMatches("0" + sha.substring(1)));
        assertEquals(sha.substring(0, 8) + "…", e.publishedHash());
        assertEquals(ModelStore.State.VERIFIED, new ModelStore(ok, models).verify(e).state());
        String other = sha.charAt(0) == '0' ? "1" : "0";
        Registry wrong = Registry.load(write(one("\"urls\": [\"https://a/x.pt\"], \"sha256_prefix\": \"" + other + sha.substring(1, 8) + "\"")));
        assertEquals(ModelStore.State.MISMATCH, new ModelStore(wrong, models).verify(wrong.require("x")).state());
        bad(one("\"urls\": [\"https://a/x.pt\"], \"sha256_prefix\": \"abc\""), "sha256_prefix: expected 8 to 63");
        bad(one("\"urls\": [\"https://a/x.pt\"], \"sha256\": \"" + sha + "\", \"sha256_prefix\": \"" + sha.substring(0, 8) + "\""),
                "(and no sha256)");
    }

    @Test
    void customModelIsAPathPlusAConfig() throws IOException {
        Path f = write("{\"format\": 1, \"configs\": {\"c\": {\"image_size\": 64}}, \"models\": ["
                + "{\"name\": \"mine\", \"kind\": \"diffusion\", \"path\": \"weights/mine.pt\", \"config\": \"c\"}]}");
        Registry r = Registry.load(f);
        ModelEntry e = r.require("mine");
        assertTrue(e.isCustom());
        assertEquals(tmp.resolve("weights/mine.pt").toAbsolutePath().normalize(), e.path());
        assertEquals(e.path(), e.location(tmp.resolve("elsewhere")));
        assertEquals(64, e.config().get("image_size"));
        ModelStore s = new ModelStore(r, tmp.resolve("models"));
        assertEquals(ModelStore.State.ABSENT, s.status(e).state());
        DiscoException ex = assertThrows(DiscoException.class, () -> s.fetch(e, null, m -> {}));
        assertEquals(ExitCodes.BAD_INPUT, ex.exitCode());
        ModelEntry c = ModelEntry.custom("other", tmp.resolve("a/b.pt"), Map.of("image_size", 256));
        assertEquals("b.pt", c.file());
        assertTrue(c.isCustom());
        assertEquals(256, c.config().get("image_size"));
    }

    @Test
    void modelDirectoryPrecedence() {
        Path opt = tmp.resolve("opt");
        assertEquals(opt, ModelDir.resolve(opt, Map.of("DISCO_MODELS", "/env/models"), "/home/u"));
        assertEquals(Path.of("/env/models"), ModelDir.resolve(null, Map.of("DISCO_MODELS", "/env/models"), "/home/u"));
        assertEquals(Path.of("/home/u/.cache/disco/models"), ModelDir.resolve(null, Map.of(), "/home/u"));
    }

    @Test
    void requireNamesTheFetchCommandWhenAbsent() throws IOException {
        ModelStore s = new ModelStore(Registry.builtin(), tmp);
        DiscoException e = assertThrows(DiscoException.class, () -> s.require("ViT-B/32"));
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("disco models fetch ViT-B/32"), e.getMessage());
        Files.write(tmp.resolve("ViT-B-32.pt"), new byte[] {1});
        assertEquals(tmp.resolve("ViT-B-32.pt"), s.require("ViTB32"));
    }
}
