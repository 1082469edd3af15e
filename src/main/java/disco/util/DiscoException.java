package disco.util;


/**
 * An error to report to the user as one line (naming the file / key / tensor and what was expected)
 * with an exit code. Thrown anywhere; the CLI prints {@link #getMessage()} on stderr and exits.
 */
public class DiscoException extends RuntimeException {
    private final int exitCode;

    public DiscoException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public DiscoException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    /** Bad input (exit code 2). */
    public static DiscoException badInput(String message) {
        return new DiscoException(ExitCodes.BAD_INPUT, message);
    }

    public static DiscoException badInput(String message, Throwable cause) {
        return new DiscoException(ExitCodes.BAD_INPUT, message, cause);
    }

    public int exitCode() {
        return exitCode;
    }
}
