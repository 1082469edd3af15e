package disco.sweep;

import disco.plan.PlanStep;
import disco.run.RunOutputs;
import disco.util.AtomicFiles;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sweep's overview, built from the runs' files: contact sheets laid out on two axes (values as row and column
 * labels; cells a constraint excluded, or not finished, are blank) and {@code index.html} with the same grid, each
 * cell linking to its run directory with its partials as a strip and its CLIP schedule drawn as one timeline bar per
 * model (inline SVG, no external resources). When more axes vary, there is one sheet per combination of the others.
 */
public final class SweepReport {
    static {
        // no ImageIO disk cache: it writes temp files outside the run directory, and its shutdown hook
        // (StreamCloser) throws when the JVM exits during a write (a second Ctrl-C)
        ImageIO.setUseCache(false);
    }

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final int THUMB = 192;

    private SweepReport() {}

    /** One sheet: the fixed values of the axes that are not rows or columns, and its file name. */
    record Sheet(Map<String, Integer> fixed, String file, String title) {}

    /** Writes the contact sheet(s) and index.html into {@code out}; returns the files written. */
    public static List<Path> write(Path out, SweepDef def, List<SweepRun> runs, PrefixTree tree) throws IOException {
        return write(out, def, runs, tree, false);
    }

    /**
     * As {@link #write(Path, SweepDef, List, PrefixTree)}; {@code live}: the sweep is still running, and the page
     * reloads itself every few seconds to show the runs as they finish.
     */
    public static List<Path> write(Path out, SweepDef def, List<SweepRun> runs, PrefixTree tree, boolean live) throws IOException {
        List<String> axesRC = def.contactAxes();
        Axis rowAxis = axesRC.size() > 0 ? def.axis(axesRC.get(0)) : null;
        Axis colAxis = axesRC.size() > 1 ? def.axis(axesRC.get(1)) : null;
        List<Axis> others = new ArrayList<>();
        for (Axis a : def.axes()) if (a != rowAxis && a != colAxis && a.values().size() > 1) others.add(a);
        List<Sheet> sheets = new ArrayList<>();
        int combos = 1;
        for (Axis a : others) combos *= a.values().size();
        for (int c = 0; c < combos; c++) {
            Map<String, Integer> fixed = new LinkedHashMap<>();
            int r = c;
            for (int k = others.size() - 1; k >= 0; k--) {
                fixed.put(others.get(k).name(), r % others.get(k).values().size());
                r /= others.get(k).values().size();
            }
            StringBuilder name = new StringBuilder("contact-sheet");
            StringBuilder title = new StringBuilder();
            for (Axis a : others) {
                int i = fixed.get(a.name());
                name.append('_').append(a.name()).append('=').append(a.label(i).replaceAll("[^A-Za-z0-9.+-]", "-"));
                title.append(title.length() == 0 ? "" : ", ").append(a.name()).append(" = ").append(labelOf(a, i));
            }
            sheets.add(new Sheet(fixed, name + ".png", title.toString()));
        }
        List<Path> written = new ArrayList<>();
        Map<SweepRun, Integer> dupNo = Duplicates.numbers(Duplicates.groups(runs));
        for (Sheet sh : sheets) {
            Path f = out.resolve(sh.file());
            writeSheet(f, def, runs, rowAxis, colAxis, sh, dupNo);
            written.add(f);
        }
        Path index = out.resolve("index.html");
        AtomicFiles.writeString(index, html(out, def, runs, rowAxis, colAxis, sheets, tree, live));
        written.add(index);
        return written;
    }

    static String labelOf(Axis a, int i) {
        if (a.kind() == Axis.Kind.PROMPT) {
            Object p = a.values().get(i);
            String s = p instanceof List<?> l ? String.join(" | ", l.stream().map(String::valueOf).toList()) : String.valueOf(p);
            return s.length() > 48 ? s.substring(0, 45) + "..." : s;
        }
        return a.label(i);
    }

    /** The run at (row value, column value) on a sheet, or null when excluded. */
    static SweepRun cell(List<SweepRun> runs, SweepDef def, Axis rowAxis, int ri, Axis colAxis, int ci, Sheet sh) {
        for (SweepRun r : runs) {
            boolean ok = true;
            for (int k = 0; k < def.axes().size() && ok; k++) {
                Axis a = def.axes().get(k);
                int v = r.axisIndex()[k];
                if (a == rowAxis) ok = v == ri;
                else if (a == colAxis) ok = v == ci;
                else if (sh.fixed().containsKey(a.name())) ok = v == sh.fixed().get(a.name());
            }
            if (ok) return r;
        }
        return null;
    }

    /** The image shown for a run: its first final image, else its latest partial, else null. */
    public static Path shownImage(Path out, SweepRun r) {
        RunOutputs o = outputs(out, r);
        for (Path f : List.of(o.finalImage(0, 0), o.finalImage(0, 1))) if (Files.isRegularFile(f)) return f;
        List<Path> ps = partialsOfBatch0(o);
        return ps.isEmpty() ? null : ps.get(ps.size() - 1);
    }

    static RunOutputs outputs(Path out, SweepRun r) {
        return new RunOutputs(out.resolve(r.name()), r.name(), 0, r.settings().batchSize(), "");
    }

    static List<Path> partialsOfBatch0(RunOutputs o) {
        List<Path> ps = new ArrayList<>();
        String prefix = o.batchName() + "(" + o.batchNum() + ")_0000-";
        for (Path p : o.partials()) {
            String n = p.getFileName().toString();
            if (n.startsWith(prefix) && !n.matches(".*_[1-9]\\d*\\.png")) ps.add(p);
        }
        // by step: list-form tags (NNN) and percentages (NN%) both sort by their number
        ps.sort(java.util.Comparator.comparingInt(p -> tagNumber(p.getFileName().toString(), prefix)));
        return ps;
    }

    private static int tagNumber(String name, String prefix) {
        String t = name.substring(prefix.length()).replaceAll("[^0-9].*$", "");
        return t.isEmpty() ? 0 : Integer.parseInt(t);
    }

    private static void writeSheet(Path f, SweepDef def, List<SweepRun> runs, Axis rowAxis, Axis colAxis, Sheet sh,
                                   Map<SweepRun, Integer> dupNo) throws IOException {
        int rows = rowAxis == null ? 1 : rowAxis.values().size();
        int cols = colAxis == null ? 1 : colAxis.values().size();
        SweepRun any = runs.get(0);
        double aspect = (double) any.settings().height() / any.settings().width();
        int cw = THUMB, ch = (int) Math.round(THUMB * aspect);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D pg = probe.createGraphics();
        FontMetrics fm = pg.getFontMetrics(font);
        int labelW = 16;
        for (int i = 0; i < rows; i++) if (rowAxis != null) labelW = Math.max(labelW, fm.stringWidth(rowAxis.name() + " = " + labelOf(rowAxis, i)) + 16);
        pg.dispose();
        int pad = 4;
        int headH = fm.getHeight() + 12 + (sh.title().isEmpty() ? 0 : fm.getHeight() + 4);
        int w = labelW + cols * (cw + pad) + pad, h = headH + rows * (ch + pad) + pad;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setFont(font);
        g.setColor(Color.BLACK);
        int y0 = fm.getAscent() + 4;
        if (!sh.title().isEmpty()) {
            g.drawString(sh.title(), pad, y0);
            y0 += fm.getHeight() + 4;
        }
        for (int c = 0; c < cols; c++) {
            String label = colAxis == null ? "" : colAxis.name() + " = " + labelOf(colAxis, c);
            int x = labelW + pad + c * (cw + pad) + Math.max(0, (cw - fm.stringWidth(label)) / 2);
            g.drawString(label, x, y0);
        }
        for (int r = 0; r < rows; r++) {
            int y = headH + pad + r * (ch + pad);
            if (rowAxis != null) g.drawString(rowAxis.name() + " = " + labelOf(rowAxis, r), 6, y + ch / 2 + fm.getAscent() / 2);
            for (int c = 0; c < cols; c++) {
                int x = labelW + pad + c * (cw + pad);
                SweepRun run = cell(runs, def, rowAxis, r, colAxis, c, sh);
                if (run == null) continue; // excluded: blank
                Path shown = shownImage(f.getParent(), run);
                if (shown == null) {
                    g.setColor(new Color(235, 235, 235));
                    g.fillRect(x, y, cw, ch);
                    g.setColor(Color.BLACK);
                    continue;
                }
                BufferedImage src = ImageIO.read(shown.toFile());
                g.drawImage(src, x, y, cw, ch, null);
                // marks: "= N" on cells that are the same run, "collapsed" where the image collapsed
                List<String> marks = new ArrayList<>();
                if (dupNo.containsKey(run)) marks.add("= " + dupNo.get(run));
                RunDiagnostics d = RunDiagnostics.read(outputs(f.getParent(), run).logFile(), run.plan().models(), run.stepsRun() - 1);
                if (d != null && d.collapse() != null) marks.add("collapsed: " + d.collapse().kind());
                int my = y + 2;
                for (String m : marks) {
                    int tw = fm.stringWidth(m) + 6;
                    g.setColor(m.startsWith("=") ? new Color(106, 27, 154) : new Color(204, 0, 0));
                    g.fillRect(x + 2, my, tw, fm.getHeight());
                    g.setColor(Color.WHITE);
                    g.drawString(m, x + 5, my + fm.getAscent());
                    my += fm.getHeight() + 2;
                }
                g.setColor(Color.BLACK);
            }
        }
        g.dispose();
        AtomicFiles.write(f, os -> ImageIO.write(img, "png", os));
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** A path relative to the sweep directory, as a URL (each segment percent-encoded). */
    private static String href(Path out, Path f) {
        StringBuilder sb = new StringBuilder();
        for (Path seg : out.relativize(f)) {
            if (sb.length() > 0) sb.append('/');
            sb.append(java.net.URLEncoder.encode(seg.toString(), java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return sb.toString();
    }

    private static final String[] PALETTE = {"#d9534f", "#337ab7", "#5cb85c", "#f0ad4e", "#9b59b6", "#16a085", "#7f8c8d"};

    /** One bar per CLIP model over the run's executed steps: filled where the model guides the step. */
    static String timeline(SweepRun r) {
        return timeline(r, THUMB);
    }

    static String timeline(SweepRun r, int bw) {
        List<String> models = r.plan().models();
        int n = r.plan().size();
        int bh = 8, gap = 3;
        StringBuilder sb = new StringBuilder();
        sb.append("<svg class=\"tl\" width=\"").append(bw).append("\" height=\"").append(models.size() * (bh + gap))
                .append("\" viewBox=\"0 0 ").append(bw).append(' ').append(models.size() * (bh + gap)).append("\">");
        for (int m = 0; m < models.size(); m++) {
            String model = models.get(m);
            int y = m * (bh + gap);
            sb.append("<rect x=\"0\" y=\"").append(y).append("\" width=\"").append(bw).append("\" height=\"").append(bh)
                    .append("\" fill=\"#eee\"><title>").append(esc(model)).append("</title></rect>");
            int start = -1;
            for (int j = 0; j <= n; j++) {
                boolean on = j < n && r.plan().step(j).active().contains(model);
                if (on && start < 0) start = j;
                if (!on && start >= 0) {
                    double x0 = (double) start / n * bw, x1 = (double) j / n * bw;
                    PlanStep a = r.plan().step(start), b = r.plan().step(j - 1);
                    sb.append(String.format(java.util.Locale.ROOT,
                            "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\"><title>%s: steps %d-%d (schedule %d-%d)</title></rect>",
                            x0, y, x1 - x0, bh, PALETTE[m % PALETTE.length], esc(model), start, j - 1, a.schedIndex(), b.schedIndex()));
                    start = -1;
                }
            }
        }
        sb.append("</svg>");
        return sb.toString();
    }

    private static final String STYLE = "body{font-family:sans-serif;margin:16px} table{border-collapse:collapse} "
            + "td,th{border:1px solid #ccc;padding:4px;vertical-align:top} th{background:#f4f4f4} "
            + "td.blank{background:#fafafa} .strip img{height:32px;margin-right:1px} "
            + ".name{font-size:11px;color:#555} .legend span{margin-right:12px} .missing{width:" + THUMB
            + "px;height:48px;background:#eee;font-size:11px} .dup{font-size:11px;color:#6a1b9a;max-width:" + THUMB + "px} "
            + ".collapse{font-size:11px;color:#fff;background:#c00;padding:1px 3px} .variant{font-size:11px;margin-top:4px} "
            + ".variant img{width:96px;display:block} svg.chart{display:block;margin-top:2px} .status{font-size:11px;color:#555}";

    /** What the report shows of one run. */
    private record Cell(SweepRun run, Path shown, boolean finished, RunDiagnostics diag, List<disco.run.ResumeVariant.Info> variants,
                        Integer duplicateGroup, List<SweepRun> sameAs) {}

    private static Cell cellOf(Path out, SweepRun r, Map<SweepRun, Integer> dupNo, List<List<SweepRun>> dups) {
        RunOutputs o = outputs(out, r);
        Path shown = shownImage(out, r);
        boolean finished = Files.isRegularFile(o.finalImage(0, 0)) || Files.isRegularFile(o.finalImage(0, 1));
        RunDiagnostics d = RunDiagnostics.read(o.logFile(), r.plan().models(), r.stepsRun() - 1);
        Integer g = dupNo.get(r);
        List<SweepRun> same = new ArrayList<>();
        if (g != null) for (SweepRun x : dups.get(g - 1)) if (x != r) same.add(x);
        return new Cell(r, shown, finished, d, disco.run.ResumeVariant.list(out.resolve(r.name()), r.name()), g, same);
    }

    /** The image shown for a variant: its final image, else its latest partial, else null. */
    private static Path variantImage(Path out, SweepRun r, int batchNum) {
        RunOutputs o = new RunOutputs(out.resolve(r.name()), r.name(), batchNum, r.settings().batchSize(), "");
        for (Path f : List.of(o.finalImage(0, 0), o.finalImage(0, 1))) if (Files.isRegularFile(f)) return f;
        List<Path> ps = partialsOfBatch0(o);
        return ps.isEmpty() ? null : ps.get(ps.size() - 1);
    }

    private static void cellHtml(StringBuilder sb, Path out, Cell c, int thumb, boolean page) {
        SweepRun run = c.run();
        Path dir = out.resolve(run.name());
        Path base = page ? dir : out;
        String runPage = href(base, dir.resolve("run.html"));
        if (!page) sb.append("<a href=\"").append(runPage).append("\">");
        if (c.shown() != null) {
            sb.append("<img src=\"").append(href(base, c.shown())).append("\" width=\"").append(thumb).append("\" alt=\"")
                    .append(esc(run.name())).append("\">");
        } else {
            sb.append("<div class=\"missing\">not run yet</div>");
        }
        if (!page) sb.append("</a>");
        sb.append("<div class=\"name\">").append(esc(run.name())).append("</div>");
        sb.append("<div class=\"status\">").append(c.finished() ? "finished" : c.shown() != null ? "preview" : "").append("</div>");
        if (c.diag() != null && c.diag().collapse() != null) {
            RunDiagnostics.Collapse k = c.diag().collapse();
            sb.append("<div><span class=\"collapse\" title=\"the x0 prediction became ").append(esc(k.kind()))
                    .append(" from this step on\">collapsed: ").append(esc(k.kind())).append(" at step ").append(k.step())
                    .append(" (").append(esc(k.active().isEmpty() ? "no CLIP model" : String.join(", ", k.active())))
                    .append(")</span></div>");
        }
        if (c.duplicateGroup() != null) {
            sb.append("<div class=\"dup\">= ").append(c.duplicateGroup()).append(": the same run as ");
            for (int i = 0; i < c.sameAs().size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(esc(c.sameAs().get(i).name()));
            }
            sb.append(" (identical executed plans, computed once)</div>");
        }
        sb.append("<div class=\"strip\">");
        for (Path p : partialsOfBatch0(outputs(out, run))) {
            sb.append("<a href=\"").append(href(base, p)).append("\"><img src=\"").append(href(base, p))
                    .append("\" alt=\"").append(esc(p.getFileName().toString())).append("\"></a>");
        }
        sb.append("</div>");
        Path gif = dir.resolve("progress.gif");
        if (Files.isRegularFile(gif)) {
            // the run's progress animation (DiscoArt's gif_fps, gif_size_ratio): inline on the run's page, a link here
            if (page) {
                sb.append("<div class=\"gif\"><img src=\"").append(href(base, gif)).append("\" alt=\"progress.gif\"></div>");
            } else {
                sb.append("<div class=\"gif\"><a href=\"").append(href(base, gif)).append("\">progress.gif</a></div>");
            }
        }
        sb.append(timeline(run, thumb));
        if (c.diag() != null) {
            int h = page ? 120 : 40;
            sb.append(c.diag().lossChart(run.plan().models(), PALETTE, thumb, h)).append(c.diag().rmsChart(thumb, h));
        }
        for (disco.run.ResumeVariant.Info v : c.variants()) {
            Path img = variantImage(out, run, v.batchNum());
            sb.append("<div class=\"variant\">variant (").append(v.batchNum()).append(") of ").append(esc(v.of()))
                    .append(" from step ").append(v.fromStep()).append(": ").append(esc(String.join(" ", v.changes())));
            if (img != null) {
                sb.append("<a href=\"").append(href(base, img)).append("\"><img src=\"").append(href(base, img))
                        .append("\" alt=\"").append(esc(img.getFileName().toString())).append("\"></a>");
            } else {
                sb.append(" (not run yet)");
            }
            sb.append("</div>");
        }
    }

    /** {@code <run>/run.html}: the run's image, partials, schedule, curves, collapse, duplicates and variants. */
    private static String runPage(Path out, Cell c, boolean live) {
        SweepRun run = c.run();
        Path dir = out.resolve(run.name());
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").append(esc(run.name())).append("</title>\n");
        if (live) sb.append("<meta http-equiv=\"refresh\" content=\"10\">\n");
        sb.append("<style>\n").append(STYLE).append("\n.strip img{height:96px}\n</style></head><body>\n");
        sb.append("<p><a href=\"../index.html\">sweep</a></p>\n<h1>").append(esc(run.name())).append("</h1>\n<p>");
        for (Map.Entry<String, Object> e : new java.util.TreeMap<>(run.vars()).entrySet()) {
            sb.append(esc(e.getKey())).append(" = ").append(esc(disco.sweep.Expr.format(e.getValue()))).append("; ");
        }
        sb.append(run.stepsRun()).append(" executed steps x ").append(run.settings().nBatches()).append(" batch")
                .append(run.settings().nBatches() == 1 ? "" : "es").append("</p>\n");
        cellHtml(sb, out, c, 3 * THUMB, true);
        RunOutputs o = outputs(out, run);
        sb.append("\n<p>");
        for (Path f : List.of(o.settingsFile(), o.logFile(), dir.resolve("progress.png"), dir.resolve("progress.gif"))) {
            if (Files.isRegularFile(f)) {
                sb.append("<a href=\"").append(href(dir, f)).append("\">").append(esc(f.getFileName().toString())).append("</a> ");
            }
        }
        sb.append("</p>\n</body></html>\n");
        return sb.toString();
    }

    private static String html(Path out, SweepDef def, List<SweepRun> runs, Axis rowAxis, Axis colAxis, List<Sheet> sheets,
                               PrefixTree tree, boolean live) throws IOException {
        List<List<SweepRun>> dups = Duplicates.groups(runs);
        Map<SweepRun, Integer> dupNo = Duplicates.numbers(dups);
        Map<SweepRun, Cell> cells = new java.util.HashMap<>();
        for (SweepRun r : runs) {
            Cell c = cellOf(out, r, dupNo, dups);
            cells.put(r, c);
            if (Files.isDirectory(out.resolve(r.name()))) {
                AtomicFiles.writeString(out.resolve(r.name()).resolve("run.html"), runPage(out, c, live));
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>disco sweep</title>\n");
        if (live) sb.append("<meta http-equiv=\"refresh\" content=\"10\">\n");
        sb.append("<style>\n").append(STYLE).append("\n</style></head><body>\n");
        long finished = cells.values().stream().filter(Cell::finished).count();
        long previews = cells.values().stream().filter(c -> !c.finished() && c.shown() != null).count();
        long collapsed = cells.values().stream().filter(c -> c.diag() != null && c.diag().collapse() != null).count();
        sb.append("<h1>disco sweep</h1>\n<p>").append(runs.size()).append(" runs (").append(finished).append(" finished, ")
                .append(previews).append(" previews").append(collapsed > 0 ? ", " + collapsed + " collapsed" : "")
                .append(live ? "; running, this page reloads itself" : "").append("); ")
                .append(tree.executedSteps()).append(" steps executed as a tree vs ").append(tree.independentSteps())
                .append(" run independently (").append(String.format(java.util.Locale.ROOT, "%.2f", (double) tree.executedSteps() / tree.independentSteps()))
                .append("&times;).</p>\n");
        if (!dups.isEmpty()) {
            sb.append("<p class=\"dup\">Same runs (identical executed plans, computed once): ");
            for (int g = 0; g < dups.size(); g++) {
                sb.append(g == 0 ? "" : "; ").append("= ").append(g + 1).append(": ")
                        .append(esc(String.join(", ", dups.get(g).stream().map(SweepRun::name).toList())));
            }
            sb.append("</p>\n");
        }
        List<String> models = runs.get(0).plan().models();
        sb.append("<p class=\"legend\">Schedule bars and loss curves: ");
        for (int m = 0; m < models.size(); m++) {
            sb.append("<span style=\"color:").append(PALETTE[m % PALETTE.length]).append("\">&#9632; ").append(esc(models.get(m))).append("</span>");
        }
        sb.append("; gradient RMS before (solid) and after (dashed) the clamp; a red line marks a collapse.</p>\n");
        for (Sheet sh : sheets) {
            sb.append("<h2>").append(sh.title().isEmpty() ? "Grid" : esc(sh.title())).append("</h2>\n");
            sb.append("<p><a href=\"").append(href(out, out.resolve(sh.file()))).append("\">contact sheet</a></p>\n");
            sb.append("<table>\n<tr><th>").append(rowAxis == null ? "" : esc(rowAxis.name())).append(" \\ ")
                    .append(colAxis == null ? "" : esc(colAxis.name())).append("</th>");
            int rows = rowAxis == null ? 1 : rowAxis.values().size();
            int cols = colAxis == null ? 1 : colAxis.values().size();
            for (int c = 0; c < cols; c++) sb.append("<th>").append(colAxis == null ? "" : esc(labelOf(colAxis, c))).append("</th>");
            sb.append("</tr>\n");
            for (int r = 0; r < rows; r++) {
                sb.append("<tr><th>").append(rowAxis == null ? "" : esc(labelOf(rowAxis, r))).append("</th>");
                for (int c = 0; c < cols; c++) {
                    SweepRun run = cell(runs, def, rowAxis, r, colAxis, c, sh);
                    if (run == null) {
                        sb.append("<td class=\"blank\"></td>");
                        continue;
                    }
                    sb.append("<td>");
                    cellHtml(sb, out, cells.get(run), THUMB, false);
                    sb.append("</td>");
                }
                sb.append("</tr>\n");
            }
            sb.append("</table>\n");
        }
        sb.append("</body></html>\n");
        return sb.toString();
    }
}
