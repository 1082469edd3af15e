package disco.cli;

import disco.run.ResolvedSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Generate images with Disco Diffusion: settings (file + flags) in; final PNGs, partials,"
                + " progress.png, the resolved settings and a per-step log out, in OUT/<batch_name>/.",
                "Prints the final image paths on stdout. Ctrl-C finishes the step, writes a checkpoint and exits 130;"
                + " `disco resume CHECKPOINT` continues it to the same image."})
public final class RunCommand implements Callable<Integer> {
    @Mixin
    SettingsOptions settings;

    @Mixin
    RunSupport.ExecOptions exec;

    @Mixin
    RunSupport.OutOption out;

    @picocli.CommandLine.Option(names = "--clip-models", paramLabel = "NAME[,NAME...]", split = ",",
            description = "the CLIP models (comma-separated); the same as --clip-model")
    java.util.List<String> clipModels = new java.util.ArrayList<>();

    @picocli.CommandLine.Option(names = "--dry-run",
            description = "load the networks and build the run as it would run, print the options in force and the"
                    + " estimated peak memory (here, on a 16 GB P100, on a 40 GB A100: which option makes it fit), run nothing")
    boolean dryRun;

    @Override
    public Integer call() {
        settings.clipModels.addAll(clipModels);
        ResolvedSettings r = ResolvedSettings.of(settings.load().settings());
        if (dryRun) return RunSupport.dryRun(r, exec);
        return RunSupport.run(r, exec, out.out);
    }
}
