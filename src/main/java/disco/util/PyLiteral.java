package disco.util;

import java.math.BigDecimal;

/**
 * Python's text for a value, the one place it is written: {@code True}/{@code False}, and a float as Python's
 * {@code repr}/{@code str} writes it — fixed notation for decimal exponents -4 to 15 ({@code 0.0001},
 * {@code 1000000.0}), else {@code 1e-05}, {@code 1.5e+16}; {@code nan}, {@code inf}. The digits are Java's
 * {@link Double#toString} (they read back to the same double; on Java 17 a few values get a digit more than
 * Python's shortest repr).
 */
public final class PyLiteral {
    private PyLiteral() {}

    public static String of(boolean b) {
        return b ? "True" : "False";
    }

    /** Python's {@code repr(float(v))}. */
    public static String ofFloat(double v) {
        if (Double.isNaN(v)) return "nan";
        if (Double.isInfinite(v)) return v > 0 ? "inf" : "-inf";
        if (v == 0) return 1 / v < 0 ? "-0.0" : "0.0";
        BigDecimal d = new BigDecimal(Double.toString(Math.abs(v))).stripTrailingZeros();
        String digits = d.unscaledValue().toString();
        int exp = digits.length() - 1 - d.scale(); // the decimal exponent of the first digit
        StringBuilder b = new StringBuilder(v < 0 ? "-" : "");
        if (exp >= -4 && exp <= 15) {
            if (exp >= 0) {
                String whole = digits.length() > exp + 1 ? digits.substring(0, exp + 1) : digits + "0".repeat(exp + 1 - digits.length());
                String frac = digits.length() > exp + 1 ? digits.substring(exp + 1) : "0";
                b.append(whole).append('.').append(frac);
            } else {
                b.append("0.").append("0".repeat(-exp - 1)).append(digits);
            }
        } else {
            b.append(digits.charAt(0));
            if (digits.length() > 1) b.append('.').append(digits, 1, digits.length());
            int a = Math.abs(exp);
            b.append('e').append(exp < 0 ? '-' : '+').append(a < 10 ? "0" : "").append(a);
        }
        return b.toString();
    }
}
