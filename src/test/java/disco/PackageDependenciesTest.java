package disco;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The package map of {@code src/main/java}, checked by scanning the sources (imports and fully qualified names in
 * code; comments and string literals do not count): a package uses only packages before it in {@link #ORDER} (no
 * upward dependency, so no cycle), and the rules of issue 18 hold with their own message.
 */
class PackageDependenciesTest {
    /** The data path, bottom up; the README's package map lists the same packages. */
    static final List<String> ORDER = List.of(
            "util", "torch", "settings", "plan",
            "models.tokenizer", "models.checkpoint", "models.layers", "models.unet", "models.secondary",
            "models.clip", "models.lpips", "models.registry",
            "sampling", "kernels", "guidance", "run", "sweep", "bench", "reference", "cli");

    /** A use of {@code disco.<pkg>} in code: an import (static or wildcard) or a qualified name. */
    private static final Pattern USE = Pattern.compile("\\bdisco((?:\\.[a-z_][a-z0-9_]*)+)(?=\\.[A-Z*])");
    private static final Pattern PACKAGE = Pattern.compile("^\\s*package\\s+disco((?:\\.[a-z_][a-z0-9_]*)+)\\s*;",
            Pattern.MULTILINE);

    record Use(String file, String from, String to) {}

    /** Every use of another disco package in {@code source}, by {@code file}'s package. */
    static List<Use> uses(String file, String source) {
        String code = codeOnly(source);
        Matcher p = PACKAGE.matcher(code);
        if (!p.find()) throw new IllegalStateException(file + ": no package disco.* declaration");
        String from = p.group(1).substring(1);
        List<Use> out = new ArrayList<>();
        Matcher m = USE.matcher(code);
        while (m.find()) {
            String to = m.group(1).substring(1);
            if (!to.equals(from)) out.add(new Use(file, from, to));
        }
        return out;
    }

    /** The violations among {@code uses}, one line each. */
    static List<String> violations(List<Use> uses) {
        TreeSet<String> out = new TreeSet<>();
        for (Use u : uses) {
            int from = ORDER.indexOf(u.from()), to = ORDER.indexOf(u.to());
            if (from < 0) out.add(u.file() + ": package disco." + u.from() + " is not in the package map");
            if (to < 0) out.add(u.file() + ": uses disco." + u.to() + ", which is not in the package map");
            if (from >= 0 && to >= 0 && to > from) {
                out.add(u.file() + ": disco." + u.from() + " uses disco." + u.to() + ", a later stage (upward dependency)");
            }
            if (u.to().equals("cli") && !u.from().equals("cli")) {
                out.add(u.file() + ": only cli uses disco.cli (exit codes and errors are in disco.util)");
            }
            if (u.to().equals("reference") && !u.from().equals("cli")) {
                out.add(u.file() + ": only cli uses disco.reference (engine packages never import the DD checks)");
            }
            if (u.from().equals("guidance") && isModels(u.to())) {
                out.add(u.file() + ": guidance uses disco." + u.to() + " (guidance imports no network)");
            }
            if (isModels(u.from()) && !isModels(u.to()) && !u.to().equals("torch") && !u.to().equals("util")) {
                out.add(u.file() + ": disco." + u.from() + " uses disco." + u.to()
                        + " (the networks use only models.*, torch and util; no settings)");
            }
        }
        return new ArrayList<>(out);
    }

    private static boolean isModels(String pkg) {
        return pkg.equals("models") || pkg.startsWith("models.");
    }

    /** {@code source} with comments, string, text-block and char literals blanked (line breaks kept). */
    static String codeOnly(String s) {
        StringBuilder b = new StringBuilder(s.length());
        int i = 0, n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c == '/' && i + 1 < n && s.charAt(i + 1) == '/') {
                while (i < n && s.charAt(i) != '\n') i++;
            } else if (c == '/' && i + 1 < n && s.charAt(i + 1) == '*') {
                int end = s.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
                for (; i < end; i++) if (s.charAt(i) == '\n') b.append('\n');
            } else if (s.startsWith("\"\"\"", i)) {
                int end = s.indexOf("\"\"\"", i + 3);
                end = end < 0 ? n : end + 3;
                for (; i < end; i++) if (s.charAt(i) == '\n') b.append('\n');
                b.append("\"\"");
            } else if (c == '"' || c == '\'') {
                i++;
                while (i < n && s.charAt(i) != c && s.charAt(i) != '\n') i += s.charAt(i) == '\\' ? 2 : 1;
                i++;
                b.append(c).append(c);
            } else {
                b.append(c);
                i++;
            }
        }
        return b.toString();
    }

    private static List<Use> scanMainSources() {
        Path root = Paths.get("src", "main", "java");
        assertTrue(Files.isDirectory(root.resolve("disco")), root.toAbsolutePath() + ": expected the main sources");
        List<Use> uses = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java")).sorted()::iterator) {
                uses.addAll(uses(root.relativize(f).toString(), Files.readString(f)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return uses;
    }

    @Test
    void mainSourcesFollowThePackageMap() {
        List<Use> uses = scanMainSources();
        assertTrue(uses.size() > 100, "the scan found only " + uses.size() + " cross-package uses");
        List<String> bad = violations(uses);
        assertTrue(bad.isEmpty(), String.join("\n", bad));
    }

    @Test
    void everyPackageOfTheSourcesIsInTheMap() {
        Map<String, Integer> seen = new TreeMap<>();
        for (Use u : scanMainSources()) seen.merge(u.from(), 1, Integer::sum);
        for (String pkg : seen.keySet()) assertTrue(ORDER.contains(pkg), "disco." + pkg + " is not in the package map");
    }

    @Test
    void theScanSeesImportsStaticImportsWildcardsAndQualifiedNames() {
        String src = """
                package disco.guidance;
                import disco.models.clip.ClipModel;
                import static disco.cli.Main.run;
                import disco.reference.*;
                class X { int c = disco.run.Pipeline.Stages.FAST.ordinal(); }
                """;
        List<Use> uses = uses("X.java", src);
        assertEquals(List.of("models.clip", "cli", "reference", "run"), uses.stream().map(Use::to).toList());
        List<String> bad = violations(uses);
        assertTrue(bad.contains("X.java: guidance uses disco.models.clip (guidance imports no network)"), bad.toString());
        assertTrue(bad.contains("X.java: only cli uses disco.cli (exit codes and errors are in disco.util)"), bad.toString());
        assertTrue(bad.contains("X.java: only cli uses disco.reference (engine packages never import the DD checks)"),
                bad.toString());
        assertTrue(bad.contains("X.java: disco.guidance uses disco.run, a later stage (upward dependency)"), bad.toString());
    }

    @Test
    void networksMayNotUseSettings() {
        List<String> bad = violations(uses("C.java", "package disco.models.clip;\nimport disco.settings.Prompt;\n"));
        assertEquals(List.of("C.java: disco.models.clip uses disco.settings (the networks use only models.*, torch and"
                + " util; no settings)"), bad);
    }

    @Test
    void commentsAndStringsAreNotUses() {
        String src = """
                package disco.plan;
                // import disco.cli.Main;
                /** {@link disco.run.Pipeline} */
                class Y { String s = "disco.cli.Main"; char q = '"'; String t = \"""
                    disco.reference.X
                    \"""; }
                """;
        assertEquals(List.of(), uses("Y.java", src));
    }
}
