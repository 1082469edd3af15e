package disco.util;

import java.util.regex.Pattern;

/** Command hints that can be pasted into a POSIX shell as printed. */
public final class Shell {
    private Shell() {}

    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./@:=+,%-]+");

    /** {@code word} as one shell word: unchanged when it has no special characters, else in single quotes. */
    public static String quote(String word) {
        if (!word.isEmpty() && PLAIN.matcher(word).matches()) return word;
        return "'" + word.replace("'", "'\\''") + "'";
    }
}
