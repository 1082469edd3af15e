package disco.models.registry;

import java.nio.file.Path;
import java.util.Map;

/** Where model files live: {@code --model-dir}, else {@code $DISCO_MODELS}, else {@code ~/.cache/disco/models}. */
public final class ModelDir {
    public static final String ENV = "DISCO_MODELS";

    private ModelDir() {}

    /** The model directory for this process (option may be null). */
    public static Path resolve(Path option) {
        return resolve(option, System.getenv(), System.getProperty("user.home"));
    }

    static Path resolve(Path option, Map<String, String> env, String home) {
        if (option != null) return option.toAbsolutePath().normalize();
        String e = env.get(ENV);
        if (e != null && !e.isBlank()) return Path.of(e).toAbsolutePath().normalize();
        return Path.of(home, ".cache", "disco", "models");
    }
}
