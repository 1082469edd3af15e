package disco.cli;

import disco.util.ExitCodes;
import disco.settings.SettingsIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

@Command(name = "settings", mixinStandardHelpOptions = true,
        description = "Print the resolved settings (file + flags + defaults) as JSON with DiscoArt's keys; the output"
                + " loads back to the same settings.")
public final class SettingsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    SettingsOptions options;

    @Override
    public Integer call() {
        SettingsIO.Loaded loaded = options.load();
        spec.commandLine().getOut().println(SettingsIO.toJson(loaded.settings()));
        return ExitCodes.OK;
    }
}
