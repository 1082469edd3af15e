package disco.settings;

import disco.util.DiscoException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Nothing parsed is silently ignored: walks README.md's settings table, its table of keys not used here, and every
 * key DD's settings files carry ({@link SettingsIO#DD_SAVED_KEYS}, {@link SettingsIO#DD_OTHER_KEYS}); each key must
 * be honoured (a settings key a test names, or one {@link SettingsIO#normalize} rewrites, checked here by loading
 * it) or produce the documented "not used by this engine" warning.
 */
class SettingsKeysDocTest {
    private static final Path README = Path.of("README.md");
    private static final Path TESTS = Path.of("src/test/java");
    private static final Pattern CODE = Pattern.compile("`([^`]+)`");

    /** {@code clip_denoised} → {@code clipDenoised} (the Settings accessor). */
    static String camel(String k) {
        StringBuilder sb = new StringBuilder();
        boolean up = false;
        for (char c : k.toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                sb.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return sb.toString();
    }

    /** The backticked names in the first cell of each row of the table whose header starts with {@code header}. */
    static List<String> tableKeys(List<String> lines, String header) {
        int at = -1;
        for (int i = 0; i < lines.size(); i++) if (lines.get(i).startsWith(header)) at = i;
        assertTrue(at >= 0, "README.md has a table headed " + header);
        List<String> keys = new ArrayList<>();
        for (int i = at + 2; i < lines.size() && lines.get(i).startsWith("|"); i++) {
            String cell = lines.get(i).split("\\|")[1];
            Matcher m = CODE.matcher(cell);
            while (m.find()) keys.add(m.group(1));
        }
        return keys;
    }

    private static SettingsIO.Loaded loadMap(Map<String, Object> m) {
        List<String> warnings = new ArrayList<>();
        Map<String, Object> n = SettingsIO.normalize(new LinkedHashMap<>(m), "f.json", warnings);
        return new SettingsIO.Loaded(SettingsIO.build(n, "f.json", Set.of(), warnings), warnings);
    }

    private static String testSources() throws IOException {
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> s = Files.walk(TESTS)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                if (p.getFileName().toString().equals("SettingsKeysDocTest.java")) continue;
                sb.append(Files.readString(p)).append('\n');
            }
        }
        return sb.toString();
    }

    @Test
    void readmeTablesAreTheKeysTheEngineReads() throws IOException {
        List<String> lines = Files.readAllLines(README);
        List<String> table = tableKeys(lines, "| key | default | schedulable | meaning |");
        Set<String> read = new TreeSet<>(SettingsIO.KEYS);
        read.addAll(SettingsIO.PRESET_KEYS);
        assertEquals(read, new TreeSet<>(table),
                "README's settings table has one row per settings key, and only those");
        Set<String> notUsed = new TreeSet<>(tableKeys(lines, "| keys | why |"));
        notUsed.remove("video_init_*");
        assertEquals(new TreeSet<>(SettingsIO.NOT_USED.keySet()), notUsed,
                "README's table of keys not used here lists exactly SettingsIO.NOT_USED");
    }

    @Test
    void everyKeyIsHonouredOrWarnedAbout() throws IOException {
        List<String> lines = Files.readAllLines(README);
        Set<String> all = new LinkedHashSet<>(tableKeys(lines, "| key | default | schedulable | meaning |"));
        all.addAll(SettingsIO.DD_SAVED_KEYS);
        all.addAll(SettingsIO.DD_OTHER_KEYS);
        all.addAll(SettingsIO.NOT_USED.keySet());
        String tests = testSources();
        List<String> problems = new ArrayList<>();
        for (String k : all) {
            if (SettingsIO.KEYS.contains(k) || SettingsIO.PRESET_KEYS.contains(k)) {
                // honoured: some test exercises it by name (the key, its Scheduled constant or its accessor)
                Scheduled sc = Scheduled.byKey(k);
                boolean named = Pattern.compile("[\"'{ ,(]" + Pattern.quote(k) + "[\"'=:\\\\]").matcher(tests).find()
                        || sc != null && tests.contains("Scheduled." + sc.name())
                        || tests.contains("." + camel(k) + "()");
                if (!named) problems.add(k + ": a settings key no test names");
            } else if (SettingsIO.isModelFlag(k)) {
                String model = null;
                for (Map.Entry<String, String> e : SettingsIO.modelFlags().entrySet()) {
                    if (e.getValue().equals(k)) model = e.getKey();
                }
                if (model != null) {
                    List<String> got = loadMap(Map.of(k, true)).settings().clipModels();
                    if (!got.equals(List.of(model))) problems.add(k + ": true gave clip_models " + got);
                    Settings viaSet = SettingsIO.load(null, new SettingsOverrides(null, List.of("RN-tiny"), null, null,
                            null, null, null, Map.of(k, "true"))).settings();
                    if (!viaSet.clipModels().equals(List.of("RN-tiny", model))) {
                        problems.add(k + ": --set " + k + "=true gave " + viaSet.clipModels());
                    }
                } else {
                    DiscoException e = assertThrows(DiscoException.class, () -> loadMap(Map.of(k, true)), k);
                    if (!e.getMessage().contains(k)) problems.add(k + ": the refusal does not name it: " + e.getMessage());
                    loadMap(Map.of(k, false, "RN50", true)); // false: nothing to load, no error
                }
            } else if (k.equals("width") || k.equals("height")) {
                Settings s = loadMap(Map.of("width", 128, "height", 192)).settings();
                if (s.width() != 128 || s.height() != 192) problems.add(k + ": not read into width_height");
            } else if (k.equals("set_seed")) {
                if (!Long.valueOf(9).equals(loadMap(Map.of("set_seed", "9")).settings().seed())) {
                    problems.add("set_seed: not read into seed");
                }
            } else if (k.equals("diffusion_steps") || k.equals("timestep_respacing")) {
                SettingsIO.Loaded l = loadMap(Map.of("steps", 10, k, k.equals("diffusion_steps") ? 999 : "ddim7"));
                if (l.warnings().stream().noneMatch(w -> w.contains(k))) problems.add(k + ": a wrong value is not reported");
            } else if (SettingsIO.NOT_USED.containsKey(k)) {
                SettingsIO.Loaded l = loadMap(Map.of(k, 1));
                boolean warned = l.warnings().stream().anyMatch(w -> w.contains(SettingsIO.NOT_USED_TEXT)
                        && w.contains(k));
                if (!warned) problems.add(k + ": no '" + SettingsIO.NOT_USED_TEXT + "' warning: " + l.warnings());
                if (l.warnings().stream().anyMatch(w -> w.contains("(misspelled?)"))) {
                    problems.add(k + ": called misspelled");
                }
            } else {
                problems.add(k + ": neither honoured nor listed as not used");
            }
        }
        assertEquals(List.of(), problems);
    }
}
