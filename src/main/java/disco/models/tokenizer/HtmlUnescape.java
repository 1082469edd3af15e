package disco.models.tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Python's {@code html.unescape}: the HTML5 rules for character references (named references from the WHATWG
 * table, with the longest-prefix rule for names without a semicolon; numeric references with the spec's
 * replacements for invalid code points). CLIP's tokenizer applies it twice to every prompt.
 */
public final class HtmlUnescape {
    private static final Pattern CHARREF =
            Pattern.compile("&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\\t\\n\\f <&#;]{1,32};?)");
    private static final Map<String, String> NAMED = loadNamed();
    /** Numeric references the spec maps elsewhere (NUL, CR, and the Windows-1252 block 0x80-0x9F). */
    private static final Map<Integer, Integer> INVALID_CHARREFS = Map.ofEntries(
            Map.entry(0x00, 0xFFFD), Map.entry(0x0D, 0x0D), Map.entry(0x80, 0x20AC), Map.entry(0x81, 0x81),
            Map.entry(0x82, 0x201A), Map.entry(0x83, 0x0192), Map.entry(0x84, 0x201E), Map.entry(0x85, 0x2026),
            Map.entry(0x86, 0x2020), Map.entry(0x87, 0x2021), Map.entry(0x88, 0x02C6), Map.entry(0x89, 0x2030),
            Map.entry(0x8A, 0x0160), Map.entry(0x8B, 0x2039), Map.entry(0x8C, 0x0152), Map.entry(0x8D, 0x8D),
            Map.entry(0x8E, 0x017D), Map.entry(0x8F, 0x8F), Map.entry(0x90, 0x90), Map.entry(0x91, 0x2018),
            Map.entry(0x92, 0x2019), Map.entry(0x93, 0x201C), Map.entry(0x94, 0x201D), Map.entry(0x95, 0x2022),
            Map.entry(0x96, 0x2013), Map.entry(0x97, 0x2014), Map.entry(0x98, 0x02DC), Map.entry(0x99, 0x2122),
            Map.entry(0x9A, 0x0161), Map.entry(0x9B, 0x203A), Map.entry(0x9C, 0x0153), Map.entry(0x9D, 0x9D),
            Map.entry(0x9E, 0x017E), Map.entry(0x9F, 0x0178));

    private HtmlUnescape() {}

    public static String unescape(String s) {
        if (s.indexOf('&') < 0) return s;
        Matcher m = CHARREF.matcher(s);
        StringBuilder out = new StringBuilder(s.length());
        int last = 0;
        while (m.find()) {
            out.append(s, last, m.start());
            out.append(replace(m.group(1)));
            last = m.end();
        }
        out.append(s, last, s.length());
        return out.toString();
    }

    private static String replace(String s) {
        if (s.charAt(0) == '#') {
            boolean hex = s.charAt(1) == 'x' || s.charAt(1) == 'X';
            String digits = s.substring(hex ? 2 : 1);
            if (digits.endsWith(";")) digits = digits.substring(0, digits.length() - 1);
            long num = parseCapped(digits, hex ? 16 : 10);
            if (num <= Integer.MAX_VALUE && INVALID_CHARREFS.containsKey((int) num)) {
                return new String(Character.toChars(INVALID_CHARREFS.get((int) num)));
            }
            if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return "\uFFFD";
            if (invalidCodePoint((int) num)) return "";
            return new String(Character.toChars((int) num));
        }
        String v = NAMED.get(s);
        if (v != null) return v;
        for (int x = s.length() - 1; x > 1; x--) {
            v = NAMED.get(s.substring(0, x));
            if (v != null) return v + s.substring(x);
        }
        return "&" + s;
    }

    /** The value, or anything above 0x10FFFF when it is larger (Python uses big integers). */
    private static long parseCapped(String digits, int radix) {
        long v = 0;
        for (int i = 0; i < digits.length(); i++) {
            v = v * radix + Character.digit(digits.charAt(i), radix);
            if (v > 0x10FFFF) return 0x110000L;
        }
        return v;
    }

    private static boolean invalidCodePoint(int c) {
        return (c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || (c >= 0x7F && c <= 0x9F)
                || (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
    }

    private static Map<String, String> loadNamed() {
        String res = "html5-entities.tsv";
        try (InputStream in = HtmlUnescape.class.getResourceAsStream(res)) {
            if (in == null) throw new IllegalStateException("missing resource " + res);
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            Map<String, String> map = new HashMap<>(4096);
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                int tab = line.indexOf('\t');
                StringBuilder v = new StringBuilder();
                for (String cp : line.substring(tab + 1).split(" ")) v.appendCodePoint(Integer.parseInt(cp, 16));
                map.put(line.substring(0, tab), v.toString());
            }
            return map;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
