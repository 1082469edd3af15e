package disco.kernels;

/** A native kernel returned an error code; the message is the library's {@code disco_last_error()}. */
public final class KernelException extends RuntimeException {
    private final int code;

    public KernelException(int code, String message) {
        super(message + " (disco_kernels error " + code + ")");
        this.code = code;
    }

    /** DISCO_EINVAL 1, DISCO_ENOCUDA 2, DISCO_ECUDA 3. */
    public int code() {
        return code;
    }
}
