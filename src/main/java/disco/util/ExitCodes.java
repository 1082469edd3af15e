package disco.util;

/** Named process exit codes (stdout carries results, stderr logs; these say how it ended). */
public final class ExitCodes {
    public static final int OK = 0;
    /** A check or comparison ran and did not pass (verify-reference FAIL, models verify mismatch). */
    public static final int CHECK_FAILED = 1;
    /** Bad input: a settings file, a flag, a model file, a tensor that is not what was expected. */
    public static final int BAD_INPUT = 2;
    /** An I/O or network failure that is not the user's input (download failed on every URL, disk full). */
    public static final int IO_ERROR = 3;
    /** The run stopped because the sample became non-finite. */
    public static final int RUN_DIVERGED = 4;
    /** {@code sweep --collect}: runs of the sweep are missing or failed (named on stderr). */
    public static final int SWEEP_INCOMPLETE = 5;
    /** Interrupted by SIGINT after writing a checkpoint. */
    public static final int INTERRUPTED = 130;
    /** An internal error (a bug). */
    public static final int INTERNAL = 70;

    private ExitCodes() {}
}
