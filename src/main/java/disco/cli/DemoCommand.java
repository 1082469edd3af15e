package disco.cli;

import disco.run.ResolvedSettings;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.settings.SettingsOverrides;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"A whole guided run on the built-in tiny models (random networks from fixed seeds: a UNet, DD's"
                + " secondary model, RN-tiny and ViT-tiny CLIPs; nothing is downloaded) at 64x64 in a few steps.",
                "Writes OUT/demo/ like `disco run` and prints the final image path. The images are noise-like: the"
                + " networks are untrained; the run exercises every stage."})
public final class DemoCommand implements Callable<Integer> {
    /** The demo's settings (a classpath resource); flags override them. */
    public static final String SETTINGS_RESOURCE = "/disco/run/demo-settings.json";

    @Option(names = "--prompt", paramLabel = "TEXT[:WEIGHT]", description = "a text prompt (repeatable)")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--seed", paramLabel = "N", description = "random seed (default: the demo's, 2022)")
    Long seed;

    @Option(names = "--steps", paramLabel = "N", description = "sampling steps (default: 10, skipping 2)")
    Integer steps;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "any settings key (repeatable)")
    List<String> set = new ArrayList<>();

    @Mixin
    RunSupport.ExecOptions exec;

    @Mixin
    RunSupport.OutOption out;

    @picocli.CommandLine.Option(names = "--dry-run",
            description = "build the demo run, print the options in force and the estimated peak memory, run nothing")
    boolean dryRun;

    @Override
    public Integer call() {
        ResolvedSettings r = ResolvedSettings.of(settings(prompts, seed, steps, set));
        if (dryRun) return RunSupport.dryRun(r, exec);
        return RunSupport.run(r, exec, out.out);
    }

    /** The demo settings with the given overrides (null / empty: the demo's values). */
    public static Settings settings(List<String> prompts, Long seed, Integer steps, List<String> set) {
        List<String> warnings = new ArrayList<>();
        Map<String, Object> m = SettingsIO.readResource(SETTINGS_RESOURCE, "demo settings", warnings);
        Map<String, String> sets = new LinkedHashMap<>();
        for (String s : set == null ? List.<String>of() : set) {
            Map.Entry<String, String> e = SettingsOverrides.splitAssignment("--set", s);
            sets.put(e.getKey(), e.getValue());
        }
        SettingsOverrides o = new SettingsOverrides(prompts, null, null, steps, null, seed, null, sets);
        Set<String> overridden = o.applyTo(m, warnings);
        Settings s = SettingsIO.build(m, "demo settings", overridden, warnings);
        for (String w : warnings) System.err.println("disco: warning: " + w);
        return s;
    }
}
