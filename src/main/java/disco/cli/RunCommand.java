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

    @Override
    public Integer call() {
        settings.clipModels.addAll(clipModels);
        return RunSupport.run(ResolvedSettings.of(settings.load().settings()), exec, out.out);
    }
}
