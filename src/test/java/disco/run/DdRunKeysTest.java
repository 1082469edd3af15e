package disco.run;

import disco.models.registry.ModelEntry;
import disco.models.registry.Registry;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.util.DiscoException;
import disco.util.ExitCodes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** DD's run keys where the run loop honours them: display_rate, intermediates_in_subfolder, check_model_SHA, PNG settings. */
class DdRunKeysTest {
    @TempDir
    Path tmp;

    @Test
    void displayRateRewritesTheProgressImageAsDdDoes() {
        // 11 executed steps: DD saves progress.png when j % display_rate == 0 and at the last step
        SaveSchedule s = SaveSchedule.ofCount(12, 1, 2, 0).withDisplayRate(4);
        List<Integer> at = new java.util.ArrayList<>();
        for (int j = 0; j < 11; j++) if (s.progressAt(j)) at.add(j);
        assertEquals(List.of(0, 4, 8, 10), at);
        // without it: the save steps (intermediate_saves 2 -> every (11 - 1) // 3 = 3 steps) and the last
        SaveSchedule plain = SaveSchedule.ofCount(12, 1, 2, 0);
        at.clear();
        for (int j = 0; j < 11; j++) if (plain.progressAt(j)) at.add(j);
        assertEquals(List.of(3, 6, 9, 10), at);
        // the settings carry it to the run's schedule
        Settings st = SettingsIO.load(null, new disco.settings.SettingsOverrides(null, null, null, 12, 1, null, null,
                Map.of("display_rate", "4", "intermediate_saves", "2", "save_rate", "0"))).settings();
        assertEquals(s, RunWriter.saves(st));
    }

    @Test
    void intermediatesInSubfolderFalsePutsPartialsBesideTheImages() throws Exception {
        RunOutputs o = RunOutputs.create(tmp, "b", 1, "{}");
        SaveSchedule.Partial p = new SaveSchedule.Partial("005");
        assertEquals(tmp.resolve("b/partials/b(0)_0000-005.png"), o.partialImage(0, p, 0));
        RunOutputs flat = o.partialsInSubfolder(false);
        assertEquals(tmp.resolve("b/b(0)_0000-005.png"), flat.partialImage(0, p, 0));
        Files.createDirectories(tmp.resolve("b"));
        flat.writeImage(flat.partialImage(0, p, 0), PilResizeTest.make(4, 4), Map.of());
        assertEquals(List.of(tmp.resolve("b/b(0)_0000-005.png")), flat.partials());
    }

    @Test
    void checkModelShaRefusesAFileWhoseHashIsNotTheRegistrys() throws Exception {
        ModelEntry vocab = Registry.builtin().require("bpe_simple_vocab_16e6");
        Path f = tmp.resolve("bpe_simple_vocab_16e6.txt.gz");
        Files.writeString(f, "not the vocabulary");
        DiscoException e = assertThrows(DiscoException.class, () -> ModelLoader.checkSha(vocab, f));
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("check_model_SHA") && e.getMessage().contains("disco models fetch"),
                e.getMessage());
        java.util.Optional<Path> real = disco.reference.Fixtures.root()
                .map(r -> r.resolve("clip-vocab/bpe_simple_vocab_16e6.txt.gz")).filter(Files::isRegularFile);
        real.ifPresent(r -> ModelLoader.checkSha(vocab, r)); // the real file passes
        // a run with check_model_SHA hashes before loading: the wrong vocabulary stops it
        Path dir = tmp.resolve("models");
        Files.createDirectories(dir);
        Files.copy(f, dir.resolve(vocab.file()));
        for (String m : List.of("ViT-B-32.pt")) Files.writeString(dir.resolve(m), "x");
        Settings s = SettingsIO.load(null, new disco.settings.SettingsOverrides(null, List.of("ViT-B/32"), null, null,
                null, null, null, Map.of("check_model_SHA", "true", "diffusion_model", "demo"))).settings();
        DiscoException e2 = assertThrows(DiscoException.class, () -> ModelLoader.load(s, dir, Registry.builtin()));
        assertTrue(e2.getMessage().contains("ViT-B-32.pt: sha256"), e2.getMessage());
    }

    @Test
    void settingsComeBackFromAPngARunWrote() throws Exception {
        ResolvedSettings r = ResolvedSettings.withSeed(Settings.defaults(), 42);
        RunOutputs o = RunOutputs.create(tmp, "p", 1, r.json());
        Files.createDirectories(o.dir());
        o.writeImage(o.finalImage(0, 0), PilResizeTest.make(6, 4), Map.of());
        SettingsIO.Loaded l = SettingsIO.load(o.finalImage(0, 0), null);
        assertEquals(r.settings(), l.settings());
        // a PNG without the chunk, or not a PNG at all: one line, exit 2
        Path bare = tmp.resolve("bare.png");
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(2, 2, java.awt.image.BufferedImage.TYPE_INT_RGB),
                "png", bare.toFile());
        DiscoException e = assertThrows(DiscoException.class, () -> SettingsIO.load(bare, null));
        assertTrue(e.getMessage().contains("no disco-settings text chunk"), e.getMessage());
        Path junk = tmp.resolve("junk.png");
        Files.writeString(junk, "nope");
        assertTrue(assertThrows(DiscoException.class, () -> SettingsIO.load(junk, null)).getMessage()
                .contains("not a PNG file"));
    }
}
