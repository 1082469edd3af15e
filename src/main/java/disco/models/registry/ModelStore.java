package disco.models.registry;

import disco.util.ExitCodes;
import disco.util.DiscoException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** The registry's files in one model directory: their state, verification and download. */
public final class ModelStore {
    /** What is known about a model file without reading it (see {@link #status}). */
    public enum State {
        /** Not in the model directory. */
        ABSENT,
        /** Present, and a hash computed earlier for this very size and mtime equals the published sha256. */
        VERIFIED,
        /** Present but not hashed since it last changed ({@code disco models verify} hashes it). */
        UNCHECKED,
        /** Present, and its hash differs from the published sha256. */
        MISMATCH,
        /** Present; no sha256 is published for it, so it cannot be verified. */
        UNVERIFIABLE
    }

    public record Status(ModelEntry entry, Path file, State state, long size) {}

    /** The outcome of hashing a file: its state ({@code VERIFIED}, {@code MISMATCH}, {@code UNVERIFIABLE}, {@code ABSENT}). */
    public record Verification(ModelEntry entry, Path file, State state, String sha256) {}

    private final Registry registry;
    private final Path dir;
    private final VerifiedCache cache;

    public ModelStore(Registry registry, Path modelDir) {
        this.registry = registry;
        this.dir = modelDir.toAbsolutePath().normalize();
        this.cache = VerifiedCache.open(dir);
    }

    public Registry registry() {
        return registry;
    }

    public Path dir() {
        return dir;
    }

    public Path location(ModelEntry e) {
        return e.location(dir);
    }

    /** The state from the file system and the verified-hash sidecar only (fast: reads no model bytes). */
    public Status status(ModelEntry e) {
        Path f = location(e);
        if (!Files.isRegularFile(f)) return new Status(e, f, State.ABSENT, -1);
        long size;
        try {
            size = Files.size(f);
        } catch (IOException ex) {
            return new Status(e, f, State.ABSENT, -1);
        }
        if (!e.verifiable()) return new Status(e, f, State.UNVERIFIABLE, size);
        Optional<String> known = cache.lookup(f);
        if (known.isEmpty()) return new Status(e, f, State.UNCHECKED, size);
        return new Status(e, f, e.hashMatches(known.get()) ? State.VERIFIED : State.MISMATCH, size);
    }

    /** Hashes the file now (ignoring the sidecar) and records the result. */
    public Verification verify(ModelEntry e) {
        Path f = location(e);
        if (!Files.isRegularFile(f)) return new Verification(e, f, State.ABSENT, null);
        try {
            String sha = Sha256.of(f);
            if (!e.hashMatches(sha)) {
                cache.forget(f);
                return new Verification(e, f, State.MISMATCH, sha);
            }
            cache.record(f, sha);
            return new Verification(e, f, !e.verifiable() ? State.UNVERIFIABLE : State.VERIFIED, sha);
        } catch (IOException ex) {
            throw new DiscoException(ExitCodes.IO_ERROR, f + ": cannot read (" + ex.getMessage() + ")", ex);
        }
    }

    /** The outcome of {@link #fetch}: the file, its state, and whether it was downloaded now. */
    public record Fetched(ModelEntry entry, Path file, State state, boolean downloaded, String url) {}

    /**
     * Makes the file present and verified: keeps a present file whose hash matches (from the sidecar or hashed now),
     * otherwise downloads it (a mismatching file is replaced only once the new one is verified).
     */
    public Fetched fetch(ModelEntry e, Downloader downloader, java.util.function.Consumer<String> log) {
        if (e.isCustom()) {
            throw DiscoException.badInput(e.name() + ": a custom model (" + e.path() + "); there is nothing to download");
        }
        Status s = status(e);
        if (s.state() == State.VERIFIED || s.state() == State.UNVERIFIABLE) {
            return new Fetched(e, s.file(), s.state(), false, null);
        }
        if (s.state() == State.UNCHECKED) {
            Verification v = verify(e);
            if (v.state() == State.VERIFIED) return new Fetched(e, v.file(), v.state(), false, null);
            log.accept(e.name() + ": " + v.file() + " does not match its sha256 (got " + v.sha256() + "); downloading it again");
        } else if (s.state() == State.MISMATCH) {
            log.accept(e.name() + ": " + s.file() + " does not match its sha256; downloading it again");
        }
        Downloader.Downloaded d = downloader.download(e, s.file());
        try {
            if (e.verifiable()) cache.record(d.file(), d.sha256());
        } catch (IOException ex) {
            log.accept(e.name() + ": could not record the verified hash (" + ex.getMessage() + ")");
        }
        return new Fetched(e, d.file(), !e.verifiable() ? State.UNVERIFIABLE : State.VERIFIED, true, d.url());
    }

    /**
     * The path of a model file that is present (for loaders). Does not re-hash: {@code disco models verify} does.
     *
     * @throws DiscoException bad input when the name is unknown or the file is absent (naming the fetch command)
     */
    public Path require(String name) {
        ModelEntry e = registry.require(name);
        Path f = location(e);
        if (!Files.isRegularFile(f)) {
            throw DiscoException.badInput(f + ": model " + e.name() + " is not present (expected the file; run `disco models fetch "
                    + quoteIfNeeded(e.name()) + "` or pass --model-dir)");
        }
        return f;
    }

    private static String quoteIfNeeded(String s) {
        return s.matches("[A-Za-z0-9_./@-]+") ? s : "'" + s + "'";
    }
}
