package disco.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
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

    /** Runs {@code disco <args>} with System.out / System.err redirected for its duration, then restored. */
    static Result exec(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.commandLine().execute(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
