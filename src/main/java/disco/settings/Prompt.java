package disco.settings;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A text (or image) prompt and its weight, as DD's {@code parse_prompt} reads {@code "text:weight"}: split on the
 * last ':' (for {@code http(s)://} prompts, the last ':' after the scheme), weight 1 when there is no ':'.
 */
public record Prompt(String text, double weight) {
    private static final Pattern FLOAT = Pattern.compile("\\s*[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?\\s*");
    /** DD refuses weights whose sum has an absolute value below this ({@code 'The weights must not sum to 0.'}). */
    public static final double MIN_ABS_SUM = 1e-3;

    public Prompt {
        if (text == null) throw new IllegalArgumentException("prompt text is null");
        if (!Double.isFinite(weight)) throw new IllegalArgumentException("prompt weight is not finite: " + weight);
    }

    /**
     * DD's {@code parse_prompt}. A suffix after the last ':' that is not a number is an error (DD's
     * {@code float()} fails there too) naming the prompt.
     */
    public static Prompt parse(String prompt) {
        if (prompt == null) throw new IllegalArgumentException("prompt is null");
        String text;
        String weight;
        int cut;
        if (prompt.startsWith("http://") || prompt.startsWith("https://")) {
            // rsplit(':', 2) then re-join the first two pieces: the scheme's ':' is never the separator.
            int last = prompt.lastIndexOf(':');
            int prev = last > 0 ? prompt.lastIndexOf(':', last - 1) : -1;
            cut = prev >= 0 ? last : -1;
        } else {
            cut = prompt.lastIndexOf(':');
        }
        if (cut < 0) {
            text = prompt;
            weight = "1";
        } else {
            text = prompt.substring(0, cut);
            weight = prompt.substring(cut + 1);
        }
        if (!FLOAT.matcher(weight).matches()) {
            throw new IllegalArgumentException("prompt \"" + prompt + "\": the text after the last ':' must be a weight"
                    + " (a number), found \"" + weight + "\"");
        }
        return new Prompt(text, Double.parseDouble(weight.strip()));
    }

    public static List<Prompt> parseAll(List<String> prompts) {
        List<Prompt> out = new ArrayList<>(prompts.size());
        for (String p : prompts) out.add(parse(p));
        return out;
    }

    /**
     * DD's normalisation: every weight divided by {@code abs(sum(weights))}; a sum with absolute value below
     * {@link #MIN_ABS_SUM} is an error naming the prompts.
     */
    public static List<Prompt> normalize(List<Prompt> prompts) {
        double sum = 0;
        for (Prompt p : prompts) sum += p.weight;
        if (prompts.isEmpty() || Math.abs(sum) < MIN_ABS_SUM) {
            StringBuilder names = new StringBuilder();
            for (Prompt p : prompts) {
                names.append(names.length() == 0 ? "" : ", ").append('"').append(p.text).append("\" (")
                        .append(p.weight).append(')');
            }
            throw new IllegalArgumentException("the prompt weights must not sum to 0: " + (prompts.isEmpty()
                    ? "no prompts" : names + " sum to " + sum));
        }
        double norm = Math.abs(sum);
        List<Prompt> out = new ArrayList<>(prompts.size());
        for (Prompt p : prompts) out.add(new Prompt(p.text, p.weight / norm));
        return out;
    }
}
