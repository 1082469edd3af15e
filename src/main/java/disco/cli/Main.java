package disco.cli;

import disco.util.DiscoException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code disco} command line: one class per subcommand, results on stdout, logs on stderr. */
@Command(name = "disco",
        mixinStandardHelpOptions = true,
        version = "disco 0.1.0",
        description = "Disco Diffusion on the JVM: CLIP-guided diffusion with per-step model schedules.",
        subcommands = {
                VerifyReferenceCommand.class,
                SettingsCommand.class,
                PlanCommand.class,
                ModelsCommand.class,
                BenchCommand.class,
                RunCommand.class,
                DemoCommand.class,
                ResumeCommand.class,
                SweepCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            Throwable t = ex;
            while (!(t instanceof DiscoException) && t.getCause() != null && t.getCause() != t) t = t.getCause();
            if (t instanceof DiscoException de) {
                System.err.println("disco: " + de.getMessage());
                return de.exitCode();
            }
            System.err.println("disco: internal error: " + ex);
            ex.printStackTrace(System.err);
            return ExitCodes.INTERNAL;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            System.err.println("disco: " + ex.getMessage());
            ex.getCommandLine().usage(System.err);
            return ExitCodes.BAD_INPUT;
        });
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
