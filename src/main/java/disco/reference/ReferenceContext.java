package disco.reference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.plan.FixtureSettings;
import disco.util.DiscoException;
import disco.util.Npy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** A reference directory (layout of {@code fixtures/dd-reference-A}) and what its checks share. */
public final class ReferenceContext {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;
    private final Path vocab;
    private FixtureSettings settings;

    public ReferenceContext(Path dir, Path vocab) {
        this.dir = dir;
        this.vocab = vocab;
    }

    public Path dir() {
        return dir;
    }

    public Path file(String name) {
        return dir.resolve(name);
    }

    public boolean has(String name) {
        return Files.exists(dir.resolve(name));
    }

    /**
     * The BPE vocabulary: {@code --vocab}, else {@code <dir>/bpe_simple_vocab_16e6.txt.gz}, else
     * {@code <dir>/../clip-vocab/bpe_simple_vocab_16e6.txt.gz}.
     */
    public Optional<Path> vocab() {
        if (vocab != null) return Optional.of(vocab);
        for (Path p : new Path[] {dir.resolve("bpe_simple_vocab_16e6.txt.gz"),
                dir.resolve("../clip-vocab/bpe_simple_vocab_16e6.txt.gz").normalize()}) {
            if (Files.isRegularFile(p)) return Optional.of(p);
        }
        return Optional.empty();
    }

    /** {@code settings.json}, parsed once. */
    public synchronized FixtureSettings fixtureSettings() {
        if (settings == null) settings = FixtureSettings.read(dir.resolve("settings.json"));
        return settings;
    }

    /** {@code settings.json}'s JSON. */
    public JsonNode settings() {
        return fixtureSettings().json();
    }

    public JsonNode json(String name) {
        try {
            return JSON.readTree(Files.readAllBytes(dir.resolve(name)));
        } catch (IOException e) {
            throw DiscoException.badInput(dir.resolve(name) + ": cannot read JSON (" + e.getMessage() + ")", e);
        }
    }

    public Npy.Array npy(String name) {
        return Npy.read(dir.resolve(name));
    }
}
