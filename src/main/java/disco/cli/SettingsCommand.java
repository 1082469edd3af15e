package disco.cli;

import disco.util.ExitCodes;
import disco.settings.SettingsIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

@Command(name = "settings", mixinStandardHelpOptions = true,
        description = "Print the resolved settings (file + flags + defaults) as JSON with DiscoArt's keys; the output"
                + " loads back to the same settings.")
public final class SettingsCommand implements Callable<Integer> {
    @Mixin
    SettingsOptions options;

    @Override
    public Integer call() {
        SettingsIO.Loaded loaded = options.load();
        System.out.println(SettingsIO.toJson(loaded.settings()));
        return ExitCodes.OK;
    }
}
