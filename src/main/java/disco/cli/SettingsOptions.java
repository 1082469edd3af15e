package disco.cli;

import disco.settings.SettingsIO;
import disco.settings.SettingsOverrides;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The settings flags every command that reads settings shares ({@code @Mixin}): a file and the values that
 * override it. {@link #load()} prints the warnings on stderr and returns the validated settings.
 */
public final class SettingsOptions {
    @Option(names = "--settings", paramLabel = "FILE",
            description = "settings file: JSON, YAML (DiscoArt) or DD's *_settings.txt; without it, the defaults")
    Path file;

    @Option(names = "--prompt", paramLabel = "TEXT[:WEIGHT]",
            description = "a text prompt (repeatable); replaces text_prompts")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--clip-model", paramLabel = "NAME", split = ",",
            description = "a CLIP model (repeatable or comma-separated); replaces clip_models")
    List<String> clipModels = new ArrayList<>();

    @Option(names = "--schedule", paramLabel = "MODEL=EXPR",
            description = "a model's on/off schedule, e.g. 'RN50=[True]*400+[False]*600' or 'ViT-L/14=20%%-100%%'"
                    + " (repeatable)")
    List<String> schedules = new ArrayList<>();

    @Option(names = "--steps", paramLabel = "N", description = "sampling steps")
    Integer steps;

    @Option(names = "--skip-steps", paramLabel = "N", description = "steps to skip at the start")
    Integer skipSteps;

    @Option(names = "--seed", paramLabel = "N", description = "random seed")
    Long seed;

    @Option(names = "--size", paramLabel = "WxH", description = "output size, e.g. 1280x768 (rounded down to 64)")
    String size;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "any settings key, e.g. --set tv_scale=100 --set 'cut_overview=[12]*400+[4]*600'"
                    + " (repeatable)")
    List<String> set = new ArrayList<>();

    public SettingsOverrides overrides() {
        Map<String, String> sched = new LinkedHashMap<>();
        for (String s : schedules) {
            Map.Entry<String, String> e = SettingsOverrides.splitAssignment("--schedule", s);
            sched.put(e.getKey(), e.getValue());
        }
        Map<String, String> sets = new LinkedHashMap<>();
        for (String s : set) {
            Map.Entry<String, String> e = SettingsOverrides.splitAssignment("--set", s);
            sets.put(e.getKey(), e.getValue());
        }
        return new SettingsOverrides(prompts, clipModels, sched, steps, skipSteps, seed,
                size == null ? null : SettingsOverrides.parseSize(size), sets);
    }

    /** The command this mixin belongs to (its writers carry the warnings). */
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    /** Loads the settings (file + flags), printing warnings on the command's stderr. */
    public SettingsIO.Loaded load() {
        SettingsIO.Loaded loaded = SettingsIO.load(file, overrides());
        PrintWriter err = mixee.commandLine().getErr();
        for (String w : loaded.warnings()) err.println("disco: warning: " + w);
        err.flush();
        return loaded;
    }
}
