package disco.reference;

/** One line of {@code disco verify-reference}: {@code <check> <max_rel_err> <tol> PASS|FAIL}. */
public record CheckResult(String name, double maxRelErr, double tol, boolean pass, String detail) {
    /** A numeric comparison: passes when {@code maxRelErr <= tol} (NaN fails). */
    public static CheckResult numeric(String name, double maxRelErr, double tol) {
        return new CheckResult(name, maxRelErr, tol, maxRelErr <= tol, "");
    }

    /** An exact comparison (tokens, step plans): error 0 or 1. */
    public static CheckResult exact(String name, boolean equal, String detail) {
        return new CheckResult(name, equal ? 0.0 : 1.0, 0.0, equal, equal ? "" : detail);
    }

    /** A check that could not run (missing file, error): FAIL with the reason. */
    public static CheckResult error(String name, String reason) {
        return new CheckResult(name, Double.NaN, 0.0, false, reason);
    }

    public String line() {
        String err = Double.isNaN(maxRelErr) ? "nan" : String.format("%.3e", maxRelErr);
        String s = String.format("%s %s %.0e %s", name, err, tol, pass ? "PASS" : "FAIL");
        return detail.isEmpty() ? s : s + "  # " + detail;
    }
}
