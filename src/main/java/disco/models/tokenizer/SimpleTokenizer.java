package disco.models.tokenizer;

import disco.util.DiscoException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * CLIP's byte-level BPE tokenizer ({@code clip/simple_tokenizer.py}): clean-up (HTML unescape twice, strip,
 * whitespace runs to one space), lowercase, CLIP's split regex, the byte-to-unicode table, BPE merges by rank
 * from {@code bpe_simple_vocab_16e6.txt.gz}, and {@code clip.tokenize}'s 77-token context with start/end tokens.
 * Thread-safe.
 */
public final class SimpleTokenizer {
    /** CLIP's context length. */
    public static final int CONTEXT_LENGTH = 77;
    /** The vocabulary file's name, as OpenAI ships it. */
    public static final String VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz";
    private static final int N_MERGES = 49152 - 256 - 2;
    private static final String SOT = "<|startoftext|>";
    private static final String EOT = "<|endoftext|>";

    private static final Pattern SPLIT = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    private final String[] byteEncoder = bytesToUnicode();
    private final Map<String, Integer> encoder;
    private final Map<String, Integer> bpeRanks;
    private final Map<String, String[]> cache = new ConcurrentHashMap<>();
    private final int sotToken;
    private final int eotToken;

    private SimpleTokenizer(List<String[]> merges) {
        List<String> vocab = new ArrayList<>(49408);
        List<String> symbols = byteSymbolsInVocabOrder(byteEncoder);
        vocab.addAll(symbols);
        for (String v : symbols) vocab.add(v + "</w>");
        for (String[] m : merges) vocab.add(m[0] + m[1]);
        vocab.add(SOT);
        vocab.add(EOT);
        encoder = new HashMap<>(vocab.size() * 2);
        for (int i = 0; i < vocab.size(); i++) encoder.put(vocab.get(i), i);
        bpeRanks = new HashMap<>(merges.size() * 2);
        for (int i = 0; i < merges.size(); i++) bpeRanks.put(pairKey(merges.get(i)[0], merges.get(i)[1]), i);
        sotToken = encoder.get(SOT);
        eotToken = encoder.get(EOT);
        cache.put(SOT, new String[] {SOT});
        cache.put(EOT, new String[] {EOT});
    }

    /** Loads the gzipped merges file ({@value #VOCAB_FILE}); a bad file is bad input naming it. */
    public static SimpleTokenizer load(Path vocabGz) {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(vocabGz))) {
            return fromMergesText(new String(in.readAllBytes(), StandardCharsets.UTF_8), vocabGz.toString());
        } catch (IOException e) {
            throw DiscoException.badInput(vocabGz + ": cannot read the BPE vocabulary (" + e.getMessage() + ")", e);
        }
    }

    /** The tokenizer of a model directory: its {@value #VOCAB_FILE}, which OpenAI ships beside the CLIP weights. */
    public static SimpleTokenizer fromModelDir(Path modelDir) {
        Path vocab = modelDir.resolve(VOCAB_FILE);
        if (!Files.isRegularFile(vocab)) {
            throw DiscoException.badInput(vocab + ": missing (expected CLIP's BPE vocabulary beside the CLIP models)");
        }
        return load(vocab);
    }

    static SimpleTokenizer fromMergesText(String text, String source) {
        String[] lines = text.split("\n", -1);
        if (lines.length < N_MERGES + 1) {
            throw DiscoException.badInput(source + ": expected at least " + (N_MERGES + 1)
                    + " lines of BPE merges, found " + lines.length);
        }
        List<String[]> merges = new ArrayList<>(N_MERGES);
        for (int i = 1; i <= N_MERGES; i++) {
            String[] parts = lines[i].trim().split("\\s+");
            if (parts.length != 2) {
                throw DiscoException.badInput(source + ": line " + (i + 1) + ": expected a merge of two symbols, found '"
                        + lines[i] + "'");
            }
            merges.add(parts);
        }
        return new SimpleTokenizer(merges);
    }

    public int sotToken() {
        return sotToken;
    }

    public int eotToken() {
        return eotToken;
    }

    public int vocabSize() {
        return encoder.size();
    }

    /** {@code clip.tokenize(text, truncate=True)}: 77 ids (start, BPE ids, end, zeros); over-long text keeps 76 + end. */
    public int[] tokenize(String text) {
        return tokenize(text, true);
    }

    /**
     * {@code clip.tokenize(text, context_length=77, truncate)}. Without truncation an over-long text is bad input.
     */
    public int[] tokenize(String text, boolean truncate) {
        int[] body = encode(text);
        int[] result = new int[CONTEXT_LENGTH];
        int n = body.length + 2;
        if (n > CONTEXT_LENGTH && !truncate) {
            throw DiscoException.badInput("prompt '" + text + "': expected at most " + (CONTEXT_LENGTH - 2)
                    + " BPE tokens, found " + body.length);
        }
        result[0] = sotToken;
        int copy = Math.min(body.length, CONTEXT_LENGTH - 1);
        System.arraycopy(body, 0, result, 1, copy);
        if (n > CONTEXT_LENGTH) {
            result[CONTEXT_LENGTH - 1] = eotToken;
        } else {
            result[body.length + 1] = eotToken;
        }
        return result;
    }

    /**
     * {@code open_clip.tokenize(text)} (open_clip 1.3.0): the same BPE and ids as {@link #tokenize(String)}, but an
     * over-long text is cut to its first 77 ids (start and 76 BPE ids, no end token).
     */
    public int[] tokenizeOpenClip(String text) {
        int[] body = encode(text);
        int[] result = new int[CONTEXT_LENGTH];
        result[0] = sotToken;
        int copy = Math.min(body.length, CONTEXT_LENGTH - 1);
        System.arraycopy(body, 0, result, 1, copy);
        if (body.length + 2 <= CONTEXT_LENGTH) result[body.length + 1] = eotToken;
        return result;
    }

    /** The BPE ids of a text, without start/end tokens ({@code SimpleTokenizer.encode}). */
    public int[] encode(String text) {
        String clean = whitespaceClean(basicClean(text)).toLowerCase(java.util.Locale.ROOT);
        List<Integer> ids = new ArrayList<>();
        Matcher m = SPLIT.matcher(clean);
        while (m.find()) {
            byte[] utf8 = m.group().getBytes(StandardCharsets.UTF_8);
            StringBuilder token = new StringBuilder(utf8.length);
            for (byte b : utf8) token.append(byteEncoder[b & 0xFF]);
            for (String piece : bpe(token.toString())) {
                Integer id = encoder.get(piece);
                if (id == null) throw new IllegalStateException("BPE produced a symbol outside the vocabulary: " + piece);
                ids.add(id);
            }
        }
        int[] out = new int[ids.size()];
        for (int i = 0; i < out.length; i++) out[i] = ids.get(i);
        return out;
    }

    /** {@code basic_clean} without ftfy: HTML-unescape twice, then strip Python-whitespace at both ends. */
    static String basicClean(String text) {
        return pyStrip(HtmlUnescape.unescape(HtmlUnescape.unescape(text)));
    }

    /** {@code whitespace_clean}: every run of Unicode whitespace becomes one space; then strip. */
    static String whitespaceClean(String text) {
        return pyStrip(WHITESPACE.matcher(text).replaceAll(" "));
    }

    /** Python's {@code str.strip()}: removes characters for which {@code str.isspace()} holds. */
    static String pyStrip(String s) {
        int start = 0, end = s.length();
        while (start < end && pyIsSpace(s.codePointAt(start))) start += Character.charCount(s.codePointAt(start));
        while (end > start && pyIsSpace(s.codePointBefore(end))) end -= Character.charCount(s.codePointBefore(end));
        return s.substring(start, end);
    }

    /** Python's {@code isspace}: general category Zs, or bidirectional class WS, B or S. */
    static boolean pyIsSpace(int cp) {
        if (Character.getType(cp) == Character.SPACE_SEPARATOR) return true;
        byte d = Character.getDirectionality(cp);
        return d == Character.DIRECTIONALITY_WHITESPACE || d == Character.DIRECTIONALITY_PARAGRAPH_SEPARATOR
                || d == Character.DIRECTIONALITY_SEGMENT_SEPARATOR;
    }

    private String[] bpe(String token) {
        String[] cached = cache.get(token);
        if (cached != null) return cached;
        // word = tuple(token[:-1]) + (token[-1] + '</w>',), over code points (byte-encoded chars are all BMP)
        List<String> word = new ArrayList<>();
        int[] cps = token.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            String c = new String(Character.toChars(cps[i]));
            word.add(i == cps.length - 1 ? c + "</w>" : c);
        }
        if (word.size() < 2) {
            String[] r = {token + "</w>"};
            cache.put(token, r);
            return r;
        }
        while (true) {
            int best = Integer.MAX_VALUE;
            String first = null, second = null;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer rank = bpeRanks.get(pairKey(word.get(i), word.get(i + 1)));
                if (rank != null && rank < best) {
                    best = rank;
                    first = word.get(i);
                    second = word.get(i + 1);
                }
            }
            if (first == null) break;
            List<String> merged = new ArrayList<>(word.size());
            int i = 0;
            while (i < word.size()) {
                if (i < word.size() - 1 && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i += 2;
                } else {
                    merged.add(word.get(i));
                    i += 1;
                }
            }
            word = merged;
            if (word.size() == 1) break;
        }
        String[] r = word.toArray(new String[0]);
        cache.put(token, r);
        return r;
    }

    private static String pairKey(String a, String b) {
        return a + '\u0000' + b;
    }

    /** GPT-2's reversible byte-to-unicode table, indexed by byte: printable bytes map to themselves, the rest to U+0100 on. */
    static String[] bytesToUnicode() {
        String[] table = new String[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            table[b] = isDirectByte(b) ? String.valueOf((char) b) : String.valueOf((char) (256 + n++));
        }
        return table;
    }

    /** The table's values in the order of its Python dict: the printable bytes ascending, then the others ascending. */
    static List<String> byteSymbolsInVocabOrder(String[] table) {
        List<String> out = new ArrayList<>(256);
        for (int b = 0; b < 256; b++) if (isDirectByte(b)) out.add(table[b]);
        for (int b = 0; b < 256; b++) if (!isDirectByte(b)) out.add(table[b]);
        return out;
    }

    private static boolean isDirectByte(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }
}
