package disco.sweep;

import disco.util.PyLiteral;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.List;

/**
 * One axis of a sweep: a name and its values. A variable's values come from a list ({@code 0,200,1000},
 * {@code ddim,plms}) or an inclusive range {@code start:end[:step]} ({@code 0:1000:200} is 0, 200, …, 1000); the
 * axes {@code seed} and {@code prompt} set the seed and the text prompts.
 *
 * @param name   the variable name (usable in templates and constraints)
 * @param kind   what it sets
 * @param values {@link Long}, {@link Double} or {@link String} values, at least one
 */
public record Axis(String name, Kind kind, List<Object> values) {
    /** What an axis sets: a template variable, the seed, or the text prompts. */
    public enum Kind { VARIABLE, SEED, PROMPT }

    /** Most values one axis may have. */
    public static final int MAX_VALUES = 100_000;

    public Axis {
        values = List.copyOf(values);
    }

    /** A value as text: Python's str() for numbers; prompts by their position ({@code 0}, {@code 1}, …) in names. */
    public String label(int k) {
        return Expr.format(values.get(k));
    }

    /** Checks a variable name: a letter or '_' then letters, digits, '_'; not a keyword. */
    static String checkName(String name, String where) {
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*") || List.of("and", "or", "not", "True", "False", "true", "false").contains(name)) {
            throw new IllegalArgumentException(where + ": '" + name + "': expected a variable name (letters, digits, _)");
        }
        return name;
    }

    /**
     * Parses a value specification: {@code start:end[:step]} (inclusive end) or a comma-separated list of numbers
     * and words (quotes keep commas: {@code "a, b",c}).
     */
    static List<Object> parseValues(String spec, String where) {
        String t = spec.strip();
        if (t.isEmpty()) throw new IllegalArgumentException(where + ": expected values (a list a,b,c or a range start:end:step), found none");
        if (t.contains(":") && !t.startsWith("\"") && !t.startsWith("'")) return range(t, where);
        List<Object> out = new ArrayList<>();
        for (String item : splitList(t, where)) out.add(scalar(item));
        return out;
    }

    /** A YAML/JSON value: a list, a range string, or a single scalar. */
    static List<Object> fromTree(Object v, String where) {
        if (v instanceof List<?> l) {
            if (l.isEmpty()) throw new IllegalArgumentException(where + ": expected values, found an empty list");
            List<Object> out = new ArrayList<>();
            for (Object o : l) out.add(normalise(o, where));
            return out;
        }
        if (v instanceof String s) return parseValues(s, where);
        if (v == null) throw new IllegalArgumentException(where + ": expected values, found none");
        return List.of(normalise(v, where));
    }

    private static Object normalise(Object o, String where) {
        if (o instanceof Integer i) return (long) i;
        if (o instanceof Long || o instanceof Double || o instanceof String) return o;
        if (o instanceof Float f) return (double) f;
        if (o instanceof java.math.BigInteger b) return b.longValueExact();
        if (o instanceof Boolean b) return PyLiteral.of(b);
        throw new IllegalArgumentException(where + ": expected numbers or text, found " + o);
    }

    /** An item of a list: an integer, a float, or text (quotes removed). */
    static Object scalar(String item) {
        String s = item.strip();
        if (s.length() >= 2 && (s.startsWith("\"") && s.endsWith("\"") || s.startsWith("'") && s.endsWith("'"))) {
            return s.substring(1, s.length() - 1);
        }
        if (s.matches("[+-]?\\d+")) {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                return s;
            }
        }
        if (s.matches("[+-]?(\\d+\\.\\d*|\\.\\d+|\\d+)([eE][+-]?\\d+)?")) return Double.parseDouble(s);
        return s;
    }

    private static List<String> splitList(String t, String where) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        char quote = 0;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (quote != 0) {
                cur.append(c);
                if (c == quote) quote = 0;
            } else if (c == '"' || c == '\'') {
                quote = c;
                cur.append(c);
            } else if (c == ',') {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        if (quote != 0) throw new IllegalArgumentException(where + ": unterminated quote in '" + t + "'");
        out.add(cur.toString());
        for (String s : out) {
            if (s.isBlank()) throw new IllegalArgumentException(where + ": empty item in the list '" + t + "'");
        }
        return out;
    }

    private static List<Object> range(String t, String where) {
        String[] p = t.split(":", -1);
        if (p.length < 2 || p.length > 3) {
            throw new IllegalArgumentException(where + ": expected a range start:end or start:end:step, found '" + t + "'");
        }
        Object[] n = new Object[p.length];
        for (int i = 0; i < p.length; i++) {
            n[i] = scalar(p[i]);
            if (!(n[i] instanceof Number)) {
                throw new IllegalArgumentException(where + ": range '" + t + "': expected a number, found '" + p[i].strip() + "'");
            }
        }
        boolean ints = true;
        for (Object o : n) ints &= o instanceof Long;
        List<Object> out = new ArrayList<>();
        if (ints) {
            long a = (Long) n[0], b = (Long) n[1], step = p.length == 3 ? (Long) n[2] : (b >= a ? 1 : -1);
            if (step == 0) throw new IllegalArgumentException(where + ": range '" + t + "': step must not be 0");
            if ((b - a) != 0 && Long.signum(b - a) != Long.signum(step)) {
                throw new IllegalArgumentException(where + ": range '" + t + "': the step goes away from the end (no values)");
            }
            long count = (b - a) / step + 1;
            if (count > MAX_VALUES) throw new IllegalArgumentException(where + ": range '" + t + "': " + count + " values, at most " + MAX_VALUES);
            for (long k = 0; k < count; k++) out.add(a + k * step);
            return out;
        }
        BigDecimal a = new BigDecimal(p[0].strip()), b = new BigDecimal(p[1].strip());
        BigDecimal step = p.length == 3 ? new BigDecimal(p[2].strip()) : BigDecimal.ONE;
        if (step.signum() == 0) throw new IllegalArgumentException(where + ": range '" + t + "': step must not be 0");
        BigDecimal span = b.subtract(a);
        if (span.signum() != 0 && span.signum() != step.signum()) {
            throw new IllegalArgumentException(where + ": range '" + t + "': the step goes away from the end (no values)");
        }
        long count = span.divide(step, MathContext.DECIMAL64).setScale(0, java.math.RoundingMode.FLOOR).longValueExact() + 1;
        if (count > MAX_VALUES) throw new IllegalArgumentException(where + ": range '" + t + "': " + count + " values, at most " + MAX_VALUES);
        for (long k = 0; k < count; k++) out.add(a.add(step.multiply(BigDecimal.valueOf(k))).doubleValue());
        return out;
    }
}
