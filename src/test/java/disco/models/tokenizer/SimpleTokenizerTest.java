package disco.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.reference.Fixtures;
import disco.util.DiscoException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SimpleTokenizerTest {
    private static SimpleTokenizer tok;

    @BeforeAll
    static void load() {
        Optional<Path> vocab = Fixtures.root().map(r -> r.resolve("clip-vocab").resolve(SimpleTokenizer.VOCAB_FILE))
                .filter(Files::isRegularFile);
        assumeTrue(vocab.isPresent(), Fixtures.missingMessage());
        tok = SimpleTokenizer.load(vocab.get());
    }

    @Test
    void fixtureTokensMatchExactly() throws Exception {
        Optional<Path> dir = Fixtures.referenceA();
        assumeTrue(dir.isPresent(), Fixtures.missingMessage());
        JsonNode json = new ObjectMapper().readTree(dir.get().resolve("tokens.json").toFile());
        int n = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); n++) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            // the fixture's ids are those of the whole key, ":weight" suffix included (checked: ".:</w>" "2</w>")
            String text = key;
            int[] want = new int[e.getValue().size()];
            for (int i = 0; i < want.length; i++) want[i] = e.getValue().get(i).asInt();
            assertArrayEquals(want, tok.tokenize(text), "tokens of '" + text + "'");
        }
        assertTrue(n > 0);
    }

    @Test
    void badVocabularyFilesAreBadInputNamingTheFile(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        DiscoException missing = assertThrows(DiscoException.class, () -> SimpleTokenizer.fromModelDir(tmp));
        assertEquals(2, missing.exitCode());
        assertTrue(missing.getMessage().contains(SimpleTokenizer.VOCAB_FILE), missing.getMessage());
        Path notGz = tmp.resolve(SimpleTokenizer.VOCAB_FILE);
        Files.writeString(notGz, "not gzip");
        DiscoException e = assertThrows(DiscoException.class, () -> SimpleTokenizer.load(notGz));
        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().startsWith(notGz.toString()), e.getMessage());
        Path shortGz = tmp.resolve("short.txt.gz");
        try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(shortGz))) {
            out.write("#version: 0.2\na b\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        DiscoException s = assertThrows(DiscoException.class, () -> SimpleTokenizer.load(shortGz));
        assertTrue(s.getMessage().contains("lines of BPE merges"), s.getMessage());
    }

    @Test
    void specialTokensAndVocabSize() {
        assertEquals(49408, tok.vocabSize());
        assertEquals(49406, tok.sotToken());
        assertEquals(49407, tok.eotToken());
    }

    @Test
    void emptyTextIsStartEndAndZeros() {
        int[] t = tok.tokenize("");
        assertEquals(SimpleTokenizer.CONTEXT_LENGTH, t.length);
        assertEquals(49406, t[0]);
        assertEquals(49407, t[1]);
        for (int i = 2; i < t.length; i++) assertEquals(0, t[i]);
        assertArrayEquals(t, tok.tokenize("   \t\n "));
    }

    @Test
    void truncationKeepsEndTokenLast() {
        String text = "cat ".repeat(100);
        int[] t = tok.tokenize(text);
        assertEquals(77, t.length);
        assertEquals(49406, t[0]);
        assertEquals(49407, t[76]);
        int cat = tok.encode("cat")[0];
        for (int i = 1; i < 76; i++) assertEquals(cat, t[i]);
        DiscoException e = assertThrows(DiscoException.class, () -> tok.tokenize(text, false));
        assertEquals(2, e.exitCode());
        // exactly 75 BPE tokens fit without truncation
        int[] fits = tok.tokenize("cat ".repeat(75), false);
        assertEquals(49407, fits[76]);
    }

    @Test
    void htmlEntitiesAreUnescapedTwice() {
        assertArrayEquals(tok.encode("rock & roll"), tok.encode("rock &amp; roll"));
        assertArrayEquals(tok.encode("rock & roll"), tok.encode("rock &amp;amp; roll"));
        assertArrayEquals(tok.encode("a < b"), tok.encode("a &lt b"));
        assertArrayEquals(tok.encode("caf\u00e9"), tok.encode("caf&#233;"));
        assertArrayEquals(tok.encode("caf\u00e9"), tok.encode("caf&#xE9;"));
        assertArrayEquals(tok.encode("\u20ac"), tok.encode("&#128;"));
        assertArrayEquals(tok.encode("\u00acit;"), tok.encode("&notit;"));
        assertEquals("&bogus;", HtmlUnescape.unescape("&bogus;"));
        assertEquals("\uFFFD", HtmlUnescape.unescape("&#99999999999999;"));
        assertEquals("ab", HtmlUnescape.unescape("a&#1;b"));
    }

    @Test
    void caseAndWhitespaceAreNormalised() {
        assertArrayEquals(tok.encode("hello world"), tok.encode("  HELLO \t\n  World  "));
        assertArrayEquals(tok.encode("hello world"), tok.encode("hello\u3000world"));
    }

    @Test
    void unicodeBytesRoundTripThroughTheByteTable() {
        String[] table = SimpleTokenizer.bytesToUnicode();
        assertEquals(256, java.util.Set.of(table).size());
        assertEquals("!", table['!']);
        assertEquals("\u0100", table[0]);
        assertEquals("\u0120", table[' ']);
        // emoji and CJK encode to known byte-level symbols without error, and deterministically
        int[] a = tok.encode("\uD83D\uDC18 \u65e5\u672c\u8a9e");
        assertTrue(a.length >= 2);
        assertArrayEquals(a, tok.encode("\uD83D\uDC18 \u65e5\u672c\u8a9e"));
    }

    @Test
    void contractionsSplitAsClipDoes() {
        // 's is its own token; the split regex is case-insensitive
        int[] a = tok.encode("it's");
        int[] b = tok.encode("IT'S");
        assertArrayEquals(a, b);
        assertEquals(2, a.length);
    }
}
