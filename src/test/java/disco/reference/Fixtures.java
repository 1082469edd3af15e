package disco.reference;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Optional;

/**
 * Where the reference fixtures live: {@code $DISCO_FIXTURES}, else {@code ../shared/fixtures} relative to the
 * working directory. Tests use {@link #root()} and skip (with a message) when it is absent.
 */
public final class Fixtures {
    private Fixtures() {}

    public static Optional<Path> root() {
        String env = System.getenv("DISCO_FIXTURES");
        Path p = env != null && !env.isBlank() ? Paths.get(env) : Paths.get("..", "shared", "fixtures");
        return Files.isDirectory(p) ? Optional.of(p.toAbsolutePath().normalize()) : Optional.empty();
    }

    /** The message a test prints when it skips for want of fixtures. */
    public static String missingMessage() {
        return "reference fixtures not found: set DISCO_FIXTURES or place them at ../shared/fixtures";
    }

    /** {@code <root>/dd-reference-A}, when present. */
    public static Optional<Path> referenceA() {
        return root().map(r -> r.resolve("dd-reference-A")).filter(Files::isDirectory);
    }
}
