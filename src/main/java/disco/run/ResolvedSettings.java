package disco.run;

import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.util.DiscoException;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Settings as a run uses them: the seed drawn when the file leaves it null (DD draws a random one), and the JSON
 * text that is written beside the images, into each PNG and into checkpoints. Loading that JSON gives back the same
 * settings, so the same run again.
 */
public record ResolvedSettings(Settings settings, String json) {
    /** Resolves {@code s}: keeps its seed, or draws one (0 ≤ seed < 2^32, as DD's {@code random.randint(0, 2**32)}). */
    public static ResolvedSettings of(Settings s) {
        long seed = s.seed() != null ? s.seed() : new SecureRandom().nextLong(0, 1L << 32);
        return withSeed(s, seed);
    }

    public static ResolvedSettings withSeed(Settings s, long seed) {
        Map<String, Object> m = SettingsIO.toMap(s);
        m.put("seed", seed);
        String json;
        try {
            json = new com.fasterxml.jackson.databind.ObjectMapper()
                    .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(m);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return fromJson(json, "resolved settings");
    }

    /** Loads settings JSON written by a run (a {@code _settings.json} or a checkpoint's). */
    public static ResolvedSettings fromJson(String json, String label) {
        List<String> warnings = new ArrayList<>();
        Settings s = SettingsIO.build(SettingsIO.normalize(SettingsIO.parse(json, label, false), label, warnings), label,
                Set.of(), warnings);
        if (s.seed() == null) throw DiscoException.badInput(label + ": seed: expected the run's seed, found null");
        return new ResolvedSettings(s, SettingsIO.toJson(s));
    }
}
