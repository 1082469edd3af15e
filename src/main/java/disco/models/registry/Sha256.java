package disco.models.registry;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** sha256 of files and byte streams, as lowercase hex. */
public final class Sha256 {
    private Sha256() {}

    public static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    public static String hex(MessageDigest md) {
        return HexFormat.of().formatHex(md.digest());
    }

    public static String of(byte[] bytes) {
        MessageDigest md = digest();
        md.update(bytes);
        return hex(md);
    }

    public static String of(Path file) throws IOException {
        MessageDigest md = digest();
        update(md, file, Long.MAX_VALUE);
        return hex(md);
    }

    /** Feeds the first {@code limit} bytes of {@code file} into {@code md}; returns how many were read. */
    public static long update(MessageDigest md, Path file, long limit) throws IOException {
        byte[] buf = new byte[1 << 20];
        long total = 0;
        try (InputStream in = Files.newInputStream(file)) {
            while (total < limit) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, limit - total));
                if (n < 0) break;
                md.update(buf, 0, n);
                total += n;
            }
        }
        return total;
    }
}
