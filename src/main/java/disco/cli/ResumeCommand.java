package disco.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "resume", mixinStandardHelpOptions = true,
        description = "Continue a run from a checkpoint (written on Ctrl-C or --stop-at) to the image the uninterrupted"
                + " run gives; writes into the run's own directory. Prints the final image paths on stdout.")
public final class ResumeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CHECKPOINT", description = "a <batch_name>(<n>)_checkpoint.zip")
    Path checkpoint;

    @Mixin
    RunSupport.ExecOptions exec;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "change a setting for the remaining steps (repeatable), e.g. --set clip_guidance_scale=8000;"
                    + " steps, seed, size, model and sampler cannot change")
    List<String> set = new ArrayList<>();

    @Option(names = "--schedule", paramLabel = "MODEL=EXPR",
            description = "change a CLIP model's on/off schedule for the remaining steps (repeatable), e.g."
                    + " 'ViT-B/32=50%%-100%%'; the same as --set clip_models_schedules.MODEL=EXPR")
    List<String> schedules = new ArrayList<>();

    @Option(names = "--run-dir", paramLabel = "DIR",
            description = "the run directory to continue in (default: the checkpoint's own directory)")
    Path runDir;

    @Option(names = "--force", description = "continue even when the checkpoint's run has finished since (its final"
            + " images exist), overwriting them")
    boolean force;

    @Override
    public Integer call() {
        List<String> changes = new ArrayList<>(set);
        for (String s : schedules) {
            var e = disco.settings.SettingsOverrides.splitAssignment("--schedule", s);
            changes.add("clip_models_schedules." + e.getKey() + "=" + e.getValue());
        }
        return RunSupport.resume(checkpoint, runDir, exec, changes, force);
    }
}
