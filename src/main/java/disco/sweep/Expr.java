package disco.sweep;

import disco.util.PyLiteral;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The sweep's small expression language, parsed by recursive descent and evaluated by walking the tree (never
 * {@code eval}): integer and float literals, single- or double-quoted strings, {@code True}/{@code False}, variables,
 * {@code + - * / // %} with Python's meaning (integers stay integers except under {@code /}; {@code //} and {@code %}
 * floor), comparisons {@code == != < <= > >=}, {@code and or not} (also {@code && || !}) and parentheses.
 *
 * <pre>
 * or   := and (('or' | '||') and)*
 * and  := not (('and' | '&&') not)*
 * not  := ('not' | '!') not | cmp
 * cmp  := sum (('==' | '!=' | '<' | '<=' | '>' | '>=') sum)?
 * sum  := prod (('+' | '-') prod)*
 * prod := unary (('*' | '/' | '//' | '%') unary)*
 * unary:= ('-' | '+') unary | atom
 * atom := NUMBER | STRING | 'True' | 'False' | NAME | '(' or ')'
 * </pre>
 * Values are {@link Long}, {@link Double}, {@link String} or {@link Boolean}.
 */
public final class Expr {
    /**
     * Deeper nesting (parentheses, prefix operators, or an expression tree this deep, e.g. a chain of 200+ operators)
     * is refused: parsing and evaluating recurse once per level, and a bad input must not overflow the stack.
     */
    public static final int MAX_DEPTH = 200;

    private final String source;
    private final Node root;

    private Expr(String source, Node root) {
        this.source = source;
        this.root = root;
    }

    /** Parses {@code text}; a syntax error is an {@link IllegalArgumentException} naming the column. */
    public static Expr parse(String text) {
        Parser p = new Parser(text);
        Node n = p.or();
        p.skipSpace();
        if (p.pos < text.length()) throw p.error("unexpected '" + text.charAt(p.pos) + "'");
        return new Expr(text, n);
    }

    public String source() {
        return source;
    }

    /** The variable names the expression reads, in order of appearance. */
    public Set<String> variables() {
        Set<String> out = new LinkedHashSet<>();
        root.vars(out);
        return out;
    }

    /** Evaluates with the given variables; an unknown variable or a type error is an IllegalArgumentException. */
    public Object eval(Map<String, Object> vars) {
        return root.eval(vars);
    }

    /** Evaluates a constraint: the result must be a boolean. */
    public boolean test(Map<String, Object> vars) {
        Object v = eval(vars);
        if (!(v instanceof Boolean b)) {
            throw new IllegalArgumentException("'" + abbreviate(source) + "': expected a true/false condition, got " + format(v));
        }
        return b;
    }

    /** Python's str() of a value: integers without a point, floats as Python writes them, True/False. */
    public static String format(Object v) {
        if (v instanceof Boolean b) return PyLiteral.of(b);
        if (v instanceof Double d) return PyLiteral.ofFloat(d);
        return String.valueOf(v);
    }

    // ---------------------------------------------------------------- tree

    private interface Node {
        Object eval(Map<String, Object> vars);

        void vars(Set<String> out);
    }

    private record Lit(Object value) implements Node {
        public Object eval(Map<String, Object> vars) {
            return value;
        }

        public void vars(Set<String> out) {}
    }

    private record Var(String name, int col) implements Node {
        public Object eval(Map<String, Object> vars) {
            Object v = vars.get(name);
            if (v == null) throw new IllegalArgumentException("unknown variable '" + name + "' at column " + col);
            return v;
        }

        public void vars(Set<String> out) {
            out.add(name);
        }
    }

    private record Unary(String op, Node a) implements Node {
        public Object eval(Map<String, Object> vars) {
            Object v = a.eval(vars);
            if (op.equals("not")) return !truth(v);
            if (v instanceof Long l) return op.equals("-") ? -l : l;
            if (v instanceof Double d) return op.equals("-") ? -d : d;
            throw new IllegalArgumentException("unary " + op + " needs a number, got " + describe(v));
        }

        public void vars(Set<String> out) {
            a.vars(out);
        }
    }

    private record Logic(String op, Node a, Node b) implements Node {
        public Object eval(Map<String, Object> vars) {
            boolean l = truth(a.eval(vars));
            if (op.equals("and")) return l && truth(b.eval(vars));
            return l || truth(b.eval(vars));
        }

        public void vars(Set<String> out) {
            a.vars(out);
            b.vars(out);
        }
    }

    private record Bin(String op, Node a, Node b) implements Node {
        public Object eval(Map<String, Object> vars) {
            Object x = a.eval(vars), y = b.eval(vars);
            switch (op) {
                case "==": return equal(x, y);
                case "!=": return !equal(x, y);
                case "<", "<=", ">", ">=": {
                    int c = compare(x, y, op);
                    return switch (op) {
                        case "<" -> c < 0;
                        case "<=" -> c <= 0;
                        case ">" -> c > 0;
                        default -> c >= 0;
                    };
                }
                default:
            }
            if (op.equals("+") && x instanceof String sx && y instanceof String sy) return sx + sy;
            if (!(x instanceof Long || x instanceof Double) || !(y instanceof Long || y instanceof Double)) {
                throw new IllegalArgumentException("'" + op + "' needs numbers, got " + describe(x) + " and " + describe(y));
            }
            if (x instanceof Long lx && y instanceof Long ly && !op.equals("/")) {
                try {
                    return longOp(op, lx, ly);
                } catch (ArithmeticException e) {
                    throw new IllegalArgumentException("integer overflow in " + format(lx) + " " + op + " " + format(ly));
                }
            }
            return doubleOp(op, ((Number) x).doubleValue(), ((Number) y).doubleValue());
        }

        private static Object longOp(String op, long lx, long ly) {
            return switch (op) {
                case "+" -> Math.addExact(lx, ly);
                case "-" -> Math.subtractExact(lx, ly);
                case "*" -> Math.multiplyExact(lx, ly);
                case "//" -> {
                    if (ly == 0) throw new IllegalArgumentException("division by zero");
                    yield Math.floorDiv(lx, ly);
                }
                default -> {
                    if (ly == 0) throw new IllegalArgumentException("modulo by zero");
                    yield Math.floorMod(lx, ly);
                }
            };
        }

        private static Object doubleOp(String op, double dx, double dy) {
            return switch (op) {
                case "+" -> dx + dy;
                case "-" -> dx - dy;
                case "*" -> dx * dy;
                case "/" -> {
                    if (dy == 0) throw new IllegalArgumentException("division by zero");
                    yield dx / dy;
                }
                case "//" -> {
                    if (dy == 0) throw new IllegalArgumentException("division by zero");
                    yield Math.floor(dx / dy);
                }
                default -> {
                    if (dy == 0) throw new IllegalArgumentException("modulo by zero");
                    double r = dx % dy;
                    yield r != 0 && (r < 0) != (dy < 0) ? r + dy : r;
                }
            };
        }

        public void vars(Set<String> out) {
            a.vars(out);
            b.vars(out);
        }
    }

    static boolean truth(Object v) {
        if (v instanceof Boolean b) return b;
        if (v instanceof Long l) return l != 0;
        if (v instanceof Double d) return d != 0;
        if (v instanceof String s) return !s.isEmpty();
        return v != null;
    }

    private static boolean equal(Object x, Object y) {
        if (x instanceof Number && y instanceof Number && !(x instanceof Long && y instanceof Long)) {
            return ((Number) x).doubleValue() == ((Number) y).doubleValue();
        }
        return x.equals(y);
    }

    private static int compare(Object x, Object y, String op) {
        if (x instanceof Long a && y instanceof Long b) return Long.compare(a, b);
        if (x instanceof Number a && y instanceof Number b) return Double.compare(a.doubleValue(), b.doubleValue());
        if (x instanceof String a && y instanceof String b) return a.compareTo(b);
        throw new IllegalArgumentException("'" + op + "' cannot compare " + describe(x) + " and " + describe(y));
    }

    private static String describe(Object v) {
        String type = v instanceof String ? "text" : v instanceof Boolean ? "a boolean" : "a number";
        return type + " (" + (v instanceof String s ? "'" + abbreviate(s) + "'" : format(v)) + ")";
    }

    /** {@code s} cut to 80 characters with "…" when longer. */
    static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 79) + "\u2026";
    }

    // ---------------------------------------------------------------- parser

    private static final class Parser {
        final String s;
        int pos;
        /** Open parentheses and prefix operators being parsed (the parser's recursion). */
        int nest;
        /** The depth of every composite node built so far (leaves count 1). */
        final java.util.IdentityHashMap<Node, Integer> depth = new java.util.IdentityHashMap<>();

        Parser(String s) {
            this.s = s;
        }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException("'" + abbreviate(s) + "': " + what + " at column " + (pos + 1));
        }

        IllegalArgumentException tooDeep() {
            return error("nested more than " + MAX_DEPTH + " levels deep (parentheses, operators)");
        }

        void enter() {
            if (++nest > MAX_DEPTH) throw tooDeep();
        }

        /** {@code n} with children {@code kids}: refused when the tree gets deeper than {@link #MAX_DEPTH}. */
        Node node(Node n, Node... kids) {
            int d = 0;
            for (Node k : kids) d = Math.max(d, depth.getOrDefault(k, 1));
            if (d + 1 > MAX_DEPTH) throw tooDeep();
            depth.put(n, d + 1);
            return n;
        }

        void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
        }

        boolean peekWord(String w) {
            skipSpace();
            if (!s.startsWith(w, pos)) return false;
            int end = pos + w.length();
            return end >= s.length() || !(Character.isLetterOrDigit(s.charAt(end)) || s.charAt(end) == '_');
        }

        boolean eat(String tok) {
            skipSpace();
            if (Character.isLetter(tok.charAt(0))) {
                if (peekWord(tok)) {
                    pos += tok.length();
                    return true;
                }
                return false;
            }
            if (s.startsWith(tok, pos)) {
                pos += tok.length();
                return true;
            }
            return false;
        }

        Node or() {
            Node n = and();
            while (true) {
                if (eat("or") || eat("||")) {
                    Node b = and();
                    n = node(new Logic("or", n, b), n, b);
                }
                else return n;
            }
        }

        Node and() {
            Node n = not();
            while (true) {
                if (eat("and") || eat("&&")) {
                    Node b = not();
                    n = node(new Logic("and", n, b), n, b);
                }
                else return n;
            }
        }

        Node not() {
            skipSpace();
            if (!eat("not")) {
                if (pos < s.length() && s.charAt(pos) == '!' && !s.startsWith("!=", pos)) {
                    pos++;
                } else {
                    return cmp();
                }
            }
            enter();
            Node a = not();
            nest--;
            return node(new Unary("not", a), a);
        }

        Node cmp() {
            Node a = sum();
            for (String op : new String[] {"==", "!=", "<=", ">=", "<", ">"}) {
                if (eat(op)) {
                    Node b = sum();
                    skipSpace();
                    for (String op2 : new String[] {"==", "!=", "<", ">"}) {
                        if (s.startsWith(op2, pos)) throw error("chained comparison: use 'and'");
                    }
                    return node(new Bin(op, a, b), a, b);
                }
            }
            if (eat("=")) {
                pos--;
                throw error("'=' is not a comparison (use '==')");
            }
            return a;
        }

        Node sum() {
            Node n = prod();
            while (true) {
                String op = eat("+") ? "+" : eat("-") ? "-" : null;
                if (op == null) return n;
                Node b = prod();
                n = node(new Bin(op, n, b), n, b);
            }
        }

        Node prod() {
            Node n = unary();
            while (true) {
                String op = eat("*") ? "*" : eat("//") ? "//" : eat("/") ? "/" : eat("%") ? "%" : null;
                if (op == null) return n;
                Node b = unary();
                n = node(new Bin(op, n, b), n, b);
            }
        }

        Node unary() {
            String op = eat("-") ? "-" : eat("+") ? "+" : null;
            if (op == null) return atom();
            enter();
            Node a = unary();
            nest--;
            return node(new Unary(op, a), a);
        }

        Node atom() {
            skipSpace();
            if (pos >= s.length()) throw error("expected a value, found the end");
            char c = s.charAt(pos);
            if (c == '(') {
                enter();
                pos++;
                Node n = or();
                if (!eat(")")) throw error("expected ')'");
                nest--;
                return n;
            }
            if (c == '"' || c == '\'') {
                int start = ++pos;
                StringBuilder sb = new StringBuilder();
                while (pos < s.length() && s.charAt(pos) != c) {
                    if (s.charAt(pos) == '\\' && pos + 1 < s.length()) pos++;
                    sb.append(s.charAt(pos++));
                }
                if (pos >= s.length()) {
                    pos = start - 1;
                    throw error("unterminated string");
                }
                pos++;
                return new Lit(sb.toString());
            }
            if (Character.isDigit(c) || c == '.' && pos + 1 < s.length() && Character.isDigit(s.charAt(pos + 1))) {
                return new Lit(number());
            }
            if (Character.isLetter(c) || c == '_') {
                int start = pos;
                while (pos < s.length() && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '_')) pos++;
                String w = s.substring(start, pos);
                switch (w) {
                    case "True", "true": return new Lit(Boolean.TRUE);
                    case "False", "false": return new Lit(Boolean.FALSE);
                    case "and", "or", "not":
                        pos = start;
                        throw error("expected a value, found '" + w + "'");
                    default: return new Var(w, start + 1);
                }
            }
            throw error("unexpected '" + c + "'");
        }

        Object number() {
            int start = pos;
            boolean isFloat = false;
            while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
            if (pos < s.length() && s.charAt(pos) == '.') {
                isFloat = true;
                pos++;
                while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
            }
            if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
                int save = pos;
                pos++;
                if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) pos++;
                if (pos < s.length() && Character.isDigit(s.charAt(pos))) {
                    isFloat = true;
                    while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
                } else {
                    pos = save;
                }
            }
            String t = s.substring(start, pos);
            if (pos < s.length() && (Character.isLetter(s.charAt(pos)) || s.charAt(pos) == '_')) {
                throw error("malformed number");
            }
            try {
                return isFloat ? (Object) Double.parseDouble(t) : (Object) Long.parseLong(t);
            } catch (NumberFormatException e) {
                pos = start;
                throw error("number out of range '" + t + "'");
            }
        }
    }

    /** Splits a template at its {@code {expression}} holes ({@code {{} and {@code }}} are literal braces). */
    static List<Object> templateParts(String template) {
        List<Object> parts = new ArrayList<>();
        StringBuilder lit = new StringBuilder();
        int i = 0;
        while (i < template.length()) {
            char c = template.charAt(i);
            if (c == '{' && i + 1 < template.length() && template.charAt(i + 1) == '{') {
                lit.append('{');
                i += 2;
            } else if (c == '}' && i + 1 < template.length() && template.charAt(i + 1) == '}') {
                lit.append('}');
                i += 2;
            } else if (c == '{') {
                int end = template.indexOf('}', i);
                if (end < 0) throw new IllegalArgumentException("'" + template + "': '{' at column " + (i + 1) + " is not closed");
                if (lit.length() > 0) {
                    parts.add(lit.toString());
                    lit.setLength(0);
                }
                String inner = template.substring(i + 1, end);
                if (inner.isBlank()) throw new IllegalArgumentException("'" + template + "': empty {} at column " + (i + 1));
                try {
                    parts.add(parse(inner));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("'" + template + "': in {" + inner + "}: " + e.getMessage());
                }
                i = end + 1;
            } else if (c == '}') {
                throw new IllegalArgumentException("'" + template + "': unmatched '}' at column " + (i + 1) + " (write '}}')");
            } else {
                lit.append(c);
                i++;
            }
        }
        if (lit.length() > 0) parts.add(lit.toString());
        return parts;
    }
}
