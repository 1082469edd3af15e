package disco.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import disco.run.StepLog;
import disco.run.X0Stats;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a run's log ({@code _log.jsonl}) says about batch 0, for the sweep's pages: per executed step and CLIP model
 * the loss (DD's {@code loss_values} summed over the cutn batches), the guidance gradient's RMS before and after the
 * clamp, and the collapse of the x0 prediction the run loop logged ({@link X0Stats}); drawn as small inline-SVG
 * curves (no script, no external resource).
 *
 * @param steps      executed steps the log covers (the largest step + 1)
 * @param loss       model → loss per step (NaN where the model is off)
 * @param rmsBefore  gradient RMS before the clamp per step (NaN: no guidance)
 * @param rmsAfter   after the clamp
 * @param collapse   the collapse found (null: none)
 */
public record RunDiagnostics(int steps, Map<String, double[]> loss, double[] rmsBefore, double[] rmsAfter, Collapse collapse) {
    /** A collapse: the kind, the step it began, the models active there. */
    public record Collapse(String kind, int step, List<String> active) {}

    /** Reads batch 0 of a log; null when there is no readable log. {@code lastStep}: the run's last executed step. */
    public static RunDiagnostics read(Path log, List<String> models, int lastStep) {
        if (!Files.isRegularFile(log)) return null;
        List<JsonNode> lines;
        try {
            lines = StepLog.read(log);
        } catch (Exception e) {
            return null;
        }
        int steps = 0;
        for (JsonNode l : lines) if (l.path("batch").asInt() == 0) steps = Math.max(steps, l.path("step").asInt() + 1);
        if (steps == 0) return null;
        final int n = steps;
        Map<String, double[]> loss = new LinkedHashMap<>();
        for (String m : models) loss.put(m, nans(n));
        double[] before = nans(n), after = nans(n);
        String[] kinds = new String[n];
        List<List<String>> active = new ArrayList<>();
        for (int j = 0; j < n; j++) active.add(List.of());
        for (JsonNode l : lines) {
            if (l.path("batch").asInt() != 0) continue;
            int j = l.path("step").asInt();
            if (j < 0 || j >= n) continue;
            l.path("loss").fields().forEachRemaining(e -> {
                double sum = 0;
                boolean any = false;
                for (JsonNode v : e.getValue()) {
                    if (v.isNumber()) {
                        sum += v.asDouble();
                        any = true;
                    }
                }
                if (any) loss.computeIfAbsent(e.getKey(), k -> nans(n))[j] = sum;
            });
            before[j] = num(l.path("grad_rms_before_clamp"));
            after[j] = num(l.path("grad_rms_after_clamp"));
            kinds[j] = l.hasNonNull("collapse") ? l.get("collapse").asText() : null;
            List<String> a = new ArrayList<>();
            l.path("active").forEach(x -> a.add(x.asText()));
            active.set(j, a);
        }
        Collapse c = null;
        // as the run loop reports it: a condition holding for PERSIST consecutive steps, or to the run's last step
        for (int j = 0; j < n && c == null; j++) {
            if (kinds[j] == null) continue;
            int k = j;
            while (k + 1 < n && kinds[j].equals(kinds[k + 1])) k++;
            if (k - j + 1 >= X0Stats.PERSIST || k == lastStep) c = new Collapse(kinds[j], j, active.get(j));
            j = k;
        }
        return new RunDiagnostics(n, loss, before, after, c);
    }

    private static double[] nans(int n) {
        double[] d = new double[n];
        java.util.Arrays.fill(d, Double.NaN);
        return d;
    }

    private static double num(JsonNode v) {
        return v.isNumber() ? v.asDouble() : Double.NaN;
    }

    /** A series of a chart. */
    record Series(String name, String colour, double[] values, boolean dashed) {}

    /** The loss per model (colours as the schedule bars'). */
    String lossChart(List<String> models, String[] palette, int width, int height) {
        List<Series> s = new ArrayList<>();
        for (Map.Entry<String, double[]> e : loss.entrySet()) {
            int m = models.indexOf(e.getKey());
            s.add(new Series(e.getKey() + " loss", palette[Math.max(0, m) % palette.length], e.getValue(), false));
        }
        return chart("loss per model", s, width, height);
    }

    /** The guidance gradient's RMS before (solid) and after (dashed) the clamp. */
    String rmsChart(int width, int height) {
        return chart("gradient RMS before (solid) / after (dashed) the clamp", List.of(
                new Series("RMS before clamp", "#444", rmsBefore, false),
                new Series("RMS after clamp", "#e67e22", rmsAfter, true)), width, height);
    }

    /**
     * One small chart over the steps: every series on one y axis (log scale when all values are positive and span
     * more than a factor of 100), its range written in the corner, a red line where the image collapsed.
     */
    String chart(String title, List<Series> series, int width, int height) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (double v : s.values()) {
                if (Double.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append("<svg class=\"chart\" width=\"").append(width).append("\" height=\"").append(height)
                .append("\" viewBox=\"0 0 ").append(width).append(' ').append(height).append("\"><title>")
                .append(esc(title)).append("</title><rect x=\"0\" y=\"0\" width=\"").append(width).append("\" height=\"")
                .append(height).append("\" fill=\"#fbfbfb\" stroke=\"#ddd\"/>");
        if (lo > hi) {
            sb.append("<text x=\"4\" y=\"").append(height / 2 + 4).append("\" font-size=\"10\" fill=\"#888\">no ")
                    .append(esc(title.split(" ")[0])).append(" logged</text></svg>");
            return sb.toString();
        }
        boolean log = lo > 0 && hi / lo > 100;
        double a = log ? Math.log10(lo) : lo, b = log ? Math.log10(hi) : hi;
        if (b - a < 1e-12) {
            a -= 0.5;
            b += 0.5;
        }
        int pad = 3;
        double xs = steps > 1 ? (width - 2.0 * pad) / (steps - 1) : 0;
        for (Series s : series) {
            StringBuilder pts = new StringBuilder();
            List<String> lines = new ArrayList<>();
            for (int j = 0; j <= s.values().length; j++) {
                double v = j < s.values().length ? s.values()[j] : Double.NaN;
                if (Double.isFinite(v) && !(log && v <= 0)) {
                    double y = height - pad - ((log ? Math.log10(v) : v) - a) / (b - a) * (height - 2.0 * pad - 10);
                    pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", pad + j * xs, y));
                } else if (pts.length() > 0) {
                    lines.add(pts.toString().strip());
                    pts.setLength(0);
                }
            }
            for (String p : lines) {
                if (!p.contains(" ")) { // a single point: a dot
                    String[] xy = p.split(",");
                    sb.append("<circle cx=\"").append(xy[0]).append("\" cy=\"").append(xy[1]).append("\" r=\"1.5\" fill=\"")
                            .append(s.colour()).append("\"><title>").append(esc(s.name())).append("</title></circle>");
                } else {
                    sb.append("<polyline fill=\"none\" stroke=\"").append(s.colour()).append("\" stroke-width=\"1.2\"")
                            .append(s.dashed() ? " stroke-dasharray=\"3,2\"" : "").append(" points=\"").append(p)
                            .append("\"><title>").append(esc(s.name())).append("</title></polyline>");
                }
            }
        }
        if (collapse != null) {
            double x = pad + collapse.step() * xs;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c00\" stroke-width=\"1\">"
                    + "<title>collapsed (%s) at step %d</title></line>", x, x, height, esc(collapse.kind()), collapse.step()));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"9\" font-size=\"8\" fill=\"#666\">%s%s .. %s</text>",
                pad, log ? "log " : "", fmt(lo), fmt(hi)));
        sb.append("</svg>");
        return sb.toString();
    }

    static String fmt(double v) {
        if (v == 0) return "0";
        double a = Math.abs(v);
        return a >= 1e4 || a < 1e-2 ? String.format(Locale.ROOT, "%.2e", v) : String.format(Locale.ROOT, "%.3g", v);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
