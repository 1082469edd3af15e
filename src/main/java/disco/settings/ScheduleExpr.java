package disco.settings;

import disco.util.PyLiteral;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The schedule language of DD / DiscoArt, parsed by recursive descent and evaluated without {@code eval}.
 *
 * <pre>
 * expr    := term (('+' | '-') term)*
 * term    := unary ('*' unary)*
 * unary   := ('-' | '+') unary | primary
 * primary := NUMBER | 'True' | 'False' | '(' expr ')' | '[' [expr (',' expr)* [',']] ']'
 * </pre>
 * Values are Python's: bool, int (exact, 64-bit), float, and flat lists of those. {@code list + list} concatenates,
 * {@code list * int} and {@code int * list} repeat, arithmetic on numbers follows Python's promotion (bools act as
 * 0/1). A bare scalar is broadcast to {@link Schedule#LENGTH} entries; a list must have exactly that many.
 * Model on/off schedules also take a window form ({@link #parseModelSchedule}).
 */
public final class ScheduleExpr {
    /** Lists longer than this are refused while evaluating (a typo like [1]*1000000000 must not exhaust memory). */
    static final int MAX_ENTRIES = 1_000_000;
    /** Nesting deeper than this (parentheses, unary signs) is refused: the parser recurses once per level. */
    public static final int MAX_DEPTH = 200;

    /** A schedule that does not parse or has the wrong length; the message names the position or the length. */
    public static final class ScheduleException extends IllegalArgumentException {
        public ScheduleException(String message) {
            super(message);
        }
    }

    private ScheduleExpr() {}

    /** Parses a schedule of one of the 13 scalars (or a model schedule without the window form). */
    public static Schedule parse(String source) {
        if (source == null) throw new ScheduleException("expected a schedule, found nothing");
        Parser p = new Parser(source);
        Val v = p.parseAll();
        if (!v.isList) {
            Schedule.Kind k = v.kind;
            double[] vals = new double[Schedule.LENGTH];
            Schedule.Kind[] ks = new Schedule.Kind[Schedule.LENGTH];
            Arrays.fill(vals, v.num);
            Arrays.fill(ks, k);
            return new Schedule(source, vals, ks);
        }
        if (v.len != Schedule.LENGTH) {
            throw new ScheduleException("the schedule has " + v.len + " entries, expected " + Schedule.LENGTH
                    + ": \"" + abbreviate(source) + "\"");
        }
        return new Schedule(source, Arrays.copyOf(v.vals, v.len), Arrays.copyOf(v.kinds, v.len));
    }

    private static final Pattern WINDOW = Pattern.compile(
            "\\s*(\\d+(?:\\.\\d*)?)\\s*(%?)\\s*-\\s*(\\d+(?:\\.\\d*)?)\\s*(%?)\\s*");

    /**
     * Parses a per-model on/off schedule: the schedule language, or a window {@code "A-B"} that is on for schedule
     * indices in {@code [A, B)} and off elsewhere. With a {@code %} on either end both ends are percentages of the
     * 1000-entry timeline ({@code "0-40%"}, {@code "20%-100%"}); otherwise they are indices ({@code "0-400"}).
     */
    public static Schedule parseModelSchedule(String source) {
        if (source == null) throw new ScheduleException("expected a schedule, found nothing");
        Matcher m = WINDOW.matcher(source);
        if (!m.matches()) return parse(source);
        boolean percent = !m.group(2).isEmpty() || !m.group(4).isEmpty();
        double a = Double.parseDouble(m.group(1));
        double b = Double.parseDouble(m.group(3));
        if (percent) {
            if (a > 100 || b > 100) {
                throw new ScheduleException("window \"" + abbreviate(source) + "\": percentages must be within 0%-100%");
            }
            a = a * Schedule.LENGTH / 100.0;
            b = b * Schedule.LENGTH / 100.0;
        }
        if (a != Math.rint(a) || b != Math.rint(b)) {
            if (!percent) {
                throw new ScheduleException("window \"" + abbreviate(source) + "\": indices must be whole numbers");
            }
            a = Math.rint(a);
            b = Math.rint(b);
        }
        if (b > Schedule.LENGTH) {
            throw new ScheduleException("window \"" + abbreviate(source) + "\": end " + (long) b + " is beyond the "
                    + Schedule.LENGTH + "-entry timeline");
        }
        if (a > b) {
            throw new ScheduleException("window \"" + abbreviate(source) + "\": start is after end");
        }
        double[] vals = new double[Schedule.LENGTH];
        Schedule.Kind[] ks = new Schedule.Kind[Schedule.LENGTH];
        Arrays.fill(ks, Schedule.Kind.BOOL);
        for (int i = (int) a; i < (int) b; i++) vals[i] = 1.0;
        return new Schedule(source, vals, ks);
    }

    /** A Python literal for a value: {@code True}, {@code 4}, {@code 0.2} ({@link PyLiteral}). */
    public static String literal(double v, Schedule.Kind kind) {
        return switch (kind) {
            case BOOL -> PyLiteral.of(v != 0);
            case INT -> Long.toString((long) v);
            default -> PyLiteral.ofFloat(v);
        };
    }

    /** {@code s} cut to 80 characters with "…" when longer (messages quote values, never 10 MB of them). */
    public static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 79) + "\u2026";
    }

    /** A value during evaluation: a scalar, or a flat list. */
    private static final class Val {
        final boolean isList;
        final double num;
        final Schedule.Kind kind;
        double[] vals;
        Schedule.Kind[] kinds;
        int len;

        Val(double num, Schedule.Kind kind) {
            this.isList = false;
            this.num = num;
            this.kind = kind;
        }

        Val(double[] vals, Schedule.Kind[] kinds, int len) {
            this.isList = true;
            this.num = 0;
            this.kind = null;
            this.vals = vals;
            this.kinds = kinds;
            this.len = len;
        }
    }

    private static final class Parser {
        final String src;
        int pos;
        int depth;

        Parser(String src) {
            this.src = src;
        }

        Val parseAll() {
            skipWs();
            if (pos >= src.length()) throw error("expected a value");
            Val v = expr();
            skipWs();
            if (pos < src.length()) throw error("unexpected " + describe());
            return v;
        }

        ScheduleException error(String what) {
            return errorAt(pos, what);
        }

        ScheduleException errorAt(int at, String what) {
            return new ScheduleException("syntax error at column " + (at + 1) + " (" + what + "): \""
                    + abbreviate(src) + "\"");
        }

        String describe() {
            if (pos >= src.length()) return "end of text";
            return "'" + src.charAt(pos) + "'";
        }

        void skipWs() {
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) pos++;
        }

        boolean accept(char c) {
            skipWs();
            if (pos < src.length() && src.charAt(pos) == c) {
                pos++;
                return true;
            }
            return false;
        }

        void expect(char c) {
            if (!accept(c)) throw error("expected '" + c + "' but found " + describe());
        }

        Val expr() {
            Val v = term();
            while (true) {
                skipWs();
                int at = pos;
                if (accept('+')) {
                    v = add(v, term(), at);
                } else if (accept('-')) {
                    v = sub(v, term(), at);
                } else {
                    return v;
                }
            }
        }

        Val term() {
            Val v = unary();
            while (true) {
                skipWs();
                int at = pos;
                if (accept('*')) {
                    skipWs();
                    if (pos < src.length() && src.charAt(pos) == '*') throw error("'**' is not supported");
                    v = mul(v, unary(), at);
                } else {
                    return v;
                }
            }
        }

        Val unary() {
            skipWs();
            int at = pos;
            if (++depth > MAX_DEPTH) {
                throw errorAt(at, "nested more than " + MAX_DEPTH + " levels deep (parentheses or signs)");
            }
            try {
                return unaryAt(at);
            } finally {
                depth--;
            }
        }

        Val unaryAt(int at) {
            if (accept('-')) {
                Val v = unary();
                if (v.isList) throw errorAt(at, "cannot negate a list");
                if (v.kind == Schedule.Kind.FLOAT) return new Val(-v.num, Schedule.Kind.FLOAT);
                return new Val(-v.num, Schedule.Kind.INT);
            }
            if (accept('+')) {
                Val v = unary();
                if (v.isList) throw errorAt(at, "cannot apply unary '+' to a list");
                return v.kind == Schedule.Kind.BOOL ? new Val(v.num, Schedule.Kind.INT) : v;
            }
            return primary();
        }

        Val primary() {
            skipWs();
            if (pos >= src.length()) throw error("expected a value but found end of text");
            char c = src.charAt(pos);
            if (c == '(') {
                pos++;
                Val v = expr();
                expect(')');
                return v;
            }
            if (c == '[') return list();
            if (Character.isDigit(c) || c == '.') return number();
            if (Character.isLetter(c) || c == '_') {
                int start = pos;
                while (pos < src.length() && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) {
                    pos++;
                }
                String word = src.substring(start, pos);
                // true/false as YAML and JSON write them (the README does too), besides Python's True/False
                if (word.equals("True") || word.equals("true")) return new Val(1, Schedule.Kind.BOOL);
                if (word.equals("False") || word.equals("false")) return new Val(0, Schedule.Kind.BOOL);
                throw errorAt(start, "unknown name '" + abbreviate(word) + "': values are numbers, True or False");
            }
            throw error("expected a value but found " + describe());
        }

        Val list() {
            int open = pos;
            expect('[');
            double[] vals = new double[8];
            Schedule.Kind[] kinds = new Schedule.Kind[8];
            int n = 0;
            if (accept(']')) return new Val(vals, kinds, 0);
            while (true) {
                skipWs();
                int at = pos;
                Val e = expr();
                if (e.isList) throw errorAt(at, "a list entry must be a number or True/False, not a list");
                if (n == vals.length) {
                    vals = Arrays.copyOf(vals, n * 2);
                    kinds = Arrays.copyOf(kinds, n * 2);
                }
                vals[n] = e.num;
                kinds[n] = e.kind;
                n++;
                if (accept(',')) {
                    if (accept(']')) break;
                    continue;
                }
                skipWs();
                if (pos >= src.length()) throw errorAt(pos, "expected ']' to close the '[' at column " + (open + 1)
                        + " but found end of text");
                expect(']');
                break;
            }
            return new Val(vals, kinds, n);
        }

        Val number() {
            int start = pos;
            while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
            boolean isFloat = false;
            if (pos < src.length() && src.charAt(pos) == '.') {
                isFloat = true;
                pos++;
                while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
            }
            if (pos < src.length() && (src.charAt(pos) == 'e' || src.charAt(pos) == 'E')) {
                int save = pos;
                pos++;
                if (pos < src.length() && (src.charAt(pos) == '+' || src.charAt(pos) == '-')) pos++;
                int digits = pos;
                while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
                if (pos == digits) {
                    pos = save;
                    throw errorAt(save, "malformed exponent in number");
                }
                isFloat = true;
            }
            String text = src.substring(start, pos);
            if (text.equals(".")) throw errorAt(start, "expected a value but found '.'");
            if (pos < src.length() && (Character.isLetter(src.charAt(pos)) || src.charAt(pos) == '_')) {
                throw error("unexpected " + describe() + " after a number");
            }
            if (isFloat) return new Val(Double.parseDouble(text), Schedule.Kind.FLOAT);
            if (text.length() > 1 && text.charAt(0) == '0' && !text.chars().allMatch(ch -> ch == '0')) {
                throw errorAt(start, "leading zeros are not allowed in '" + text + "'");
            }
            try {
                long l = Long.parseLong(text);
                if (l > (1L << 53)) throw errorAt(start, "integer " + text + " is too large");
                return new Val(l, Schedule.Kind.INT);
            } catch (NumberFormatException e) {
                throw errorAt(start, "integer " + text + " is too large");
            }
        }

        Val add(Val a, Val b, int at) {
            if (a.isList && b.isList) {
                int n = a.len + b.len;
                checkSize(n, at);
                double[] vals = Arrays.copyOf(a.vals, Math.max(n, 1));
                Schedule.Kind[] kinds = Arrays.copyOf(a.kinds, Math.max(n, 1));
                System.arraycopy(b.vals, 0, vals, a.len, b.len);
                System.arraycopy(b.kinds, 0, kinds, a.len, b.len);
                return new Val(vals, kinds, n);
            }
            if (a.isList || b.isList) throw errorAt(at, "cannot add a list and a number");
            return arith(a, b, a.num + b.num, at);
        }

        Val sub(Val a, Val b, int at) {
            if (a.isList || b.isList) throw errorAt(at, "cannot subtract lists");
            return arith(a, b, a.num - b.num, at);
        }

        Val mul(Val a, Val b, int at) {
            if (a.isList && b.isList) throw errorAt(at, "cannot multiply a list by a list");
            if (a.isList || b.isList) {
                Val list = a.isList ? a : b;
                Val count = a.isList ? b : a;
                if (count.kind == Schedule.Kind.FLOAT) {
                    throw errorAt(at, "a list can only be repeated a whole number of times, not "
                            + literal(count.num, count.kind));
                }
                long times = Math.max(0, (long) count.num);
                long n = times * list.len;
                if (list.len != 0 && n / list.len != times) throw errorAt(at, "the list is too long");
                checkSize(n, at);
                int ni = (int) n;
                double[] vals = new double[Math.max(ni, 1)];
                Schedule.Kind[] kinds = new Schedule.Kind[Math.max(ni, 1)];
                for (int r = 0; r < times; r++) {
                    System.arraycopy(list.vals, 0, vals, r * list.len, list.len);
                    System.arraycopy(list.kinds, 0, kinds, r * list.len, list.len);
                }
                return new Val(vals, kinds, ni);
            }
            return arith(a, b, a.num * b.num, at);
        }

        Val arith(Val a, Val b, double result, int at) {
            if (a.kind == Schedule.Kind.FLOAT || b.kind == Schedule.Kind.FLOAT) {
                return new Val(result, Schedule.Kind.FLOAT);
            }
            if (Math.abs(result) > (double) (1L << 53)) throw errorAt(at, "integer result is too large");
            return new Val(result, Schedule.Kind.INT);
        }

        void checkSize(long n, int at) {
            if (n > MAX_ENTRIES) {
                throw errorAt(at, "the list would have " + n + " entries, expected " + Schedule.LENGTH);
            }
        }
    }
}
