package disco.models.registry;

/** Receives download progress (byte counts include bytes already in a resumed {@code .part} file). */
public interface DownloadProgress {
    /** A transfer begins: {@code done} bytes already present, {@code total} expected in all, or -1 if unknown. */
    void start(String name, String url, long done, long total);

    /** {@code done} bytes are now in the file. */
    void advance(long done);

    /** The transfer from this URL ended (completed, or stopped with an error that is reported separately). */
    void end(long done);

    static DownloadProgress none() {
        return new DownloadProgress() {
            @Override public void start(String name, String url, long done, long total) {}
            @Override public void advance(long done) {}
            @Override public void end(long done) {}
        };
    }
}
