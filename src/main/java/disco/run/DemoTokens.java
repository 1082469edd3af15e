package disco.run;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * The demo's text tokens, so that {@code disco demo} needs no download: the demo CLIPs are random networks over
 * CLIP's 49,408-token vocabulary, and any fixed, text-dependent tokenization exercises them the same way. This one is
 * byte-level BPE with no merges: start token 49406, then each UTF-8 byte of each lower-cased word as its byte
 * value (0–255; a word's last byte + 256, like CLIP's {@code </w>} symbols), then the end token 49407, zero padded
 * to 77 (an over-long text keeps 76 tokens + end, as {@code truncate=True}). Real CLIP models always use the BPE
 * vocabulary file.
 */
public final class DemoTokens {
    public static final int CONTEXT = 77;
    public static final int SOT = 49406;
    public static final int EOT = 49407;

    private DemoTokens() {}

    public static long[] tokenize(String text) {
        long[] out = new long[CONTEXT];
        int n = 0;
        out[n++] = SOT;
        for (String word : text.toLowerCase(Locale.ROOT).trim().split("\\s+")) {
            byte[] b = word.getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < b.length && n < CONTEXT - 1; i++) {
                out[n++] = (b[i] & 0xff) + (i == b.length - 1 ? 256 : 0);
            }
        }
        out[Math.min(n, CONTEXT - 1)] = EOT;
        return out;
    }

    public static long[][] tokenize(List<String> texts) {
        long[][] out = new long[texts.size()][];
        for (int i = 0; i < out.length; i++) out[i] = tokenize(texts.get(i));
        return out;
    }
}
