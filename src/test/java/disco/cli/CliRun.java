package disco.cli;

import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

/**
 * Runs the {@code disco} command line in process, capturing its exit code and what it wrote to stdout and stderr:
 * {@link #exec} for one command, or an instance that keeps the last command's output ({@link #stdout()},
 * {@link #stderr()}).
 */
final class CliRun {
    private Result last = new Result(-1, "", "");

    /** Runs {@code disco <args>} (see {@link #exec}); returns its exit code and keeps its output. */
    int run(String... args) {
        last = exec(args);
        return last.code();
    }

    /** What the last {@link #run} wrote to stdout ("" before the first). */
    String stdout() {
        return last.stdout();
    }

    /** What the last {@link #run} wrote to stderr ("" before the first). */
    String stderr() {
        return last.stderr();
    }

    /** One command's exit code, stdout and stderr (UTF-8). */
    record Result(int code, String stdout, String stderr) {}

    /**
     * Runs {@code disco <args>} capturing both the command line's writers and, for the commands that still print
     * on System.out / System.err (run, demo, resume, sweep, bench step), those streams, restored after.
     */
    static Result exec(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
            PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
            System.setOut(o);
            System.setErr(e);
            CommandLine cl = Main.commandLine();
            cl.setOut(new PrintWriter(new OutputStreamWriter(o, StandardCharsets.UTF_8), true));
            cl.setErr(new PrintWriter(new OutputStreamWriter(e, StandardCharsets.UTF_8), true));
            int code = cl.execute(args);
            cl.getOut().flush();
            cl.getErr().flush();
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /**
     * Runs {@code disco <args>} capturing only the command line's writers ({@code getOut()} / {@code getErr()});
     * System.out / System.err are left alone, so what a command prints there is not in the result.
     */
    static Result execThroughWriters(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        cl.getOut().flush();
        cl.getErr().flush();
        return new Result(code, out.toString(), err.toString());
    }
}
