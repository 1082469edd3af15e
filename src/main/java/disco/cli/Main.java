package disco.cli;

import disco.util.ExitCodes;
import disco.util.DiscoException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * The {@code disco} command line: one class per subcommand, results on stdout, logs on stderr. Every way a command
 * can fail ends in one line on stderr and a named exit code ({@link ExitCodes}): bad input names what is at fault
 * ({@link DiscoException}); anything else is a bug, reported as one line asking for a report, with the stack trace
 * only under {@code --debug}.
 */
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
                DoctorCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class Main implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "on an internal error, print the stack trace (for a bug report)")
    boolean debug;

    /** {@code disco} alone: the usage on stderr, and the usage-error exit code (a command is missing). */
    @Override
    public Integer call() {
        return usageError(spec);
    }

    /** A parent command given without a subcommand: its usage on stderr, exit {@link ExitCodes#BAD_INPUT}. */
    static int usageError(CommandLine.Model.CommandSpec spec) {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCodes.BAD_INPUT;
    }

    /**
     * The command line, writing through {@code getOut()} / {@code getErr()} (autoflushing writers over
     * {@code System.out} / {@code System.err} as they are now; a test may set others).
     */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(new PrintWriter(System.out, true));
        cl.setErr(new PrintWriter(System.err, true));
        cl.setExecutionStrategy(pr -> {
            try {
                return new CommandLine.RunLast().execute(pr);
            } catch (StackOverflowError | OutOfMemoryError e) {
                // reported by the handler below like any other failure, not as "Exception in thread main"
                throw new CommandLine.ExecutionException(pr.commandSpec().commandLine(), String.valueOf(e), e);
            }
        });
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> report(ex, debug(parseResult), cmd.getErr()));
        cl.setParameterExceptionHandler((ex, args) -> {
            // one line: what is wrong and where the usage is (picocli's messages name the option or parameter)
            String name = ex.getCommandLine().getCommandSpec().qualifiedName();
            String msg = oneLine(ex.getMessage());
            if (msg.startsWith("Error: ")) msg = msg.substring("Error: ".length());
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("disco: " + msg + " (see '" + name + " --help')");
            err.flush();
            return ExitCodes.BAD_INPUT;
        });
        return cl;
    }

    /** Prints the one line for a failure of a command on {@code err} and returns its exit code. */
    static int report(Throwable ex, boolean debug, PrintWriter err) {
        try {
            return reportTo(ex, debug, err);
        } finally {
            err.flush();
        }
    }

    private static int reportTo(Throwable ex, boolean debug, PrintWriter err) {
        Throwable t = ex;
        while (!(t instanceof DiscoException) && t.getCause() != null && t.getCause() != t) t = t.getCause();
        if (t instanceof DiscoException de) {
            err.println("disco: " + oneLine(de.getMessage()));
            if (debug) de.printStackTrace(err);
            return de.exitCode();
        }
        Throwable root = ex instanceof CommandLine.ExecutionException && ex.getCause() != null ? ex.getCause() : ex;
        if (root instanceof OutOfMemoryError) {
            err.println("disco: out of memory (" + oneLine(root.getMessage()) + "): try a smaller width_height"
                    + " or batch_size, or give the JVM more (DISCO_JAVA_OPTS=-Xmx...)");
            if (debug) root.printStackTrace(err);
            return ExitCodes.IO_ERROR;
        }
        err.println("disco: internal error: " + oneLine(String.valueOf(root)) + "; this is a bug, please report"
                + " it" + (debug ? " with the stack trace below" : " (rerun with --debug for the stack trace)"));
        if (debug) root.printStackTrace(err);
        return ExitCodes.INTERNAL;
    }

    /** Whether {@code --debug} was given anywhere on the command line. */
    private static boolean debug(CommandLine.ParseResult pr) {
        for (CommandLine.ParseResult p = pr; p != null; p = p.hasSubcommand() ? p.subcommand() : null) {
            if (p.hasMatchedOption("--debug")) return true;
        }
        return false;
    }

    /** A message as one line of at most 2000 characters (a message quoting a huge value stays readable). */
    static String oneLine(String s) {
        if (s == null) return "";
        String one = s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
        return one.length() <= 2000 ? one : one.substring(0, 1999) + "\u2026";
    }

    public static void main(String[] args) {
        CommandLine cl = commandLine();
        int code = cl.execute(args);
        cl.getOut().flush();
        cl.getErr().flush();
        System.out.flush();
        System.err.flush();
        System.exit(code);
    }
}
