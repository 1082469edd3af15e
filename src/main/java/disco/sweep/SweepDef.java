package disco.sweep;

import disco.util.PyLiteral;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import disco.plan.StepPlan;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.settings.SettingsOverrides;
import disco.util.DiscoException;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A validated sweep: a base settings file with fixed overrides, axes (variables, seeds, prompts), constraints that
 * drop combinations, and templates that place the variables into settings. {@link #runs()} expands it into the
 * runs, each with validated settings and its step plan; every check happens here, before any compute.
 */
public final class SweepDef {

    /**
     * A template: a settings key (or {@code key.entry}) and a value with {@code {expression}} holes.
     *
     * @param key   as written
     * @param top   the top-level settings key
     * @param entry the entry of a mapping-valued key, or null
     * @param origin where it was written ({@code --set}, or the sweep file and its {@code set} key), for messages
     */
    public record Template(String key, String top, String entry, String text, List<Object> parts, String origin) {
        String render(Map<String, Object> vars) {
            StringBuilder sb = new StringBuilder();
            for (Object p : parts) {
                if (p instanceof Expr e) sb.append(Expr.format(e.eval(vars)));
                else sb.append((String) p);
            }
            return sb.toString();
        }
    }

    /** What the user wrote, before validation; the file's values first, the command line's added after. */
    public static final class Builder {
        Path settingsFile;
        SettingsOverrides base = SettingsOverrides.none();
        final List<String[]> grid = new ArrayList<>();      // name, spec (from the command line)
        final List<Map.Entry<String, Object>> gridTree = new ArrayList<>(); // from a file
        final List<String[]> where = new ArrayList<>();     // constraint, origin
        final List<String[]> templates = new ArrayList<>(); // key, template, origin
        int fileTemplates;
        List<Object> seeds;
        List<Object> prompts;
        List<String> contactAxes = new ArrayList<>();
        String label = "command line";
        /** The sweep file's name for messages about its grid, or "--grid". */
        String gridOrigin = "--grid";
        String seedsOrigin = "--seeds";

        public Builder settingsFile(Path f) {
            settingsFile = f;
            return this;
        }

        public Builder base(SettingsOverrides o) {
            base = o;
            return this;
        }

        /** {@code NAME=VALUES} from {@code --grid}. */
        public Builder grid(String assignment) {
            int eq = assignment.indexOf('=');
            if (eq <= 0) throw DiscoException.badInput("--grid: expected NAME=VALUES (a,b,c or start:end:step), found '" + assignment + "'");
            grid.add(new String[] {assignment.substring(0, eq).strip(), assignment.substring(eq + 1)});
            return this;
        }

        public Builder where(String constraint) {
            where.add(new String[] {constraint, "--where"});
            return this;
        }

        /** {@code KEY=TEMPLATE} from {@code --set}. */
        public Builder template(String assignment) {
            int eq = assignment.indexOf('=');
            if (eq <= 0) throw DiscoException.badInput("--set: expected KEY=VALUE, found '" + assignment + "'");
            String key = assignment.substring(0, eq).strip();
            String value = assignment.substring(eq + 1).strip();
            for (int i = 0; i < templates.size(); i++) {
                if (templates.get(i)[0].equals(key)) {
                    if (i >= fileTemplates) throw DiscoException.badInput("--set: '" + key + "': set twice");
                    templates.set(i, new String[] {key, value, "--set"}); // the command line replaces the file's value
                    return this;
                }
            }
            templates.add(new String[] {key, value, "--set"});
            return this;
        }

        public Builder seeds(String list) {
            try {
                setSeeds(Axis.parseValues(list, "--seeds"));
            } catch (IllegalArgumentException e) {
                throw DiscoException.badInput(e.getMessage(), e);
            }
            return this;
        }

        private void setSeeds(List<Object> v) {
            if (seeds != null) throw DiscoException.badInput(label + ": two axes named 'seed' (seeds given twice)");
            seeds = v;
        }

        public Builder prompt(String text) {
            if (prompts == null) prompts = new ArrayList<>();
            prompts.add(text);
            return this;
        }

        public Builder contactAxes(List<String> axes) {
            contactAxes = new ArrayList<>(axes);
            return this;
        }

        /**
         * Reads a sweep file (YAML or JSON): {@code settings} (a path relative to the file), {@code set} (fixed
         * values or templates, {@code KEY: VALUE}), {@code grid} ({@code NAME: [values]} or {@code "start:end:step"}),
         * {@code where} (one constraint or a list), {@code seeds}, {@code prompts}, {@code axes} (the contact sheet's
         * row and column axes).
         */
        public Builder file(Path file) {
            Map<String, Object> m = SettingsIO.readTree(file, true);
            String l = file.toString();
            label = l;
            gridOrigin = l + ": grid";
            for (Map.Entry<String, Object> e : m.entrySet()) {
                Object v = e.getValue();
                switch (e.getKey()) {
                    case "settings" -> {
                        if (!(v instanceof String s)) throw DiscoException.badInput(l + ": settings: expected a file path");
                        Path p = Path.of(s);
                        settingsFile = p.isAbsolute() ? p : (file.toAbsolutePath().getParent().resolve(p)).normalize();
                    }
                    case "set", "templates" -> {
                        if (!(v instanceof Map<?, ?> mm)) throw DiscoException.badInput(l + ": " + e.getKey() + ": expected a mapping KEY: VALUE");
                        for (Map.Entry<?, ?> t : mm.entrySet()) {
                            templates.add(new String[] {String.valueOf(t.getKey()), valueText(t.getValue()), l + ": " + e.getKey()});
                        }
                    }
                    case "grid" -> {
                        if (!(v instanceof Map<?, ?> mm)) throw DiscoException.badInput(l + ": grid: expected a mapping NAME: VALUES");
                        for (Map.Entry<?, ?> t : mm.entrySet()) gridTree.add(Map.entry(String.valueOf(t.getKey()), t.getValue() == null ? "" : t.getValue()));
                    }
                    case "where" -> {
                        if (v instanceof String s) where.add(new String[] {s, l + ": where"});
                        else if (v instanceof List<?> ll) for (Object o : ll) where.add(new String[] {String.valueOf(o), l + ": where"});
                        else throw DiscoException.badInput(l + ": where: expected a constraint or a list of them");
                    }
                    case "seeds" -> {
                        try {
                            setSeeds(Axis.fromTree(v, l + ": seeds"));
                            seedsOrigin = l + ": seeds";
                        } catch (IllegalArgumentException ex) {
                            throw DiscoException.badInput(ex.getMessage(), ex);
                        }
                    }
                    case "prompts" -> {
                        if (!(v instanceof List<?> ll) || ll.isEmpty()) throw DiscoException.badInput(l + ": prompts: expected a non-empty list");
                        prompts = new ArrayList<>();
                        for (Object o : ll) {
                            if (o instanceof List<?> inner) prompts.add(new ArrayList<>(inner.stream().map(String::valueOf).toList()));
                            else prompts.add(String.valueOf(o));
                        }
                    }
                    case "axes" -> {
                        if (v instanceof List<?> ll) contactAxes = new ArrayList<>(ll.stream().map(String::valueOf).toList());
                        else if (v instanceof String s) contactAxes = new ArrayList<>(List.of(s.split(",")));
                        else throw DiscoException.badInput(l + ": axes: expected [ROW_AXIS, COLUMN_AXIS]");
                    }
                    default -> throw DiscoException.badInput(l + ": " + e.getKey()
                            + ": unknown sweep key (expected settings, set, grid, where, seeds, prompts, axes)");
                }
            }
            label = "command line";
            fileTemplates = templates.size();
            return this;
        }

        private static String valueText(Object v) {
            if (v instanceof String s) return s;
            if (v instanceof Boolean b) return PyLiteral.of(b); // both the schedule language and YAML read these
            if (v instanceof Number) return String.valueOf(v);
            try {
                return new ObjectMapper().writeValueAsString(v);
            } catch (Exception e) {
                return String.valueOf(v);
            }
        }

        public SweepDef build() {
            return new SweepDef(this);
        }
    }

    private final Path settingsFile;
    private final SettingsOverrides base;
    private final List<Axis> axes;
    private final List<Expr> constraints;
    private final List<Template> templates;
    private final List<String> contactAxes;
    private final List<String> warnings = new ArrayList<>();
    /** Where each constraint was written (--where or the sweep file), for messages. */
    private final java.util.IdentityHashMap<Expr, String> whereOrigins = new java.util.IdentityHashMap<>();

    private SweepDef(Builder b) {
        this.settingsFile = b.settingsFile;
        this.base = b.base;
        List<Axis> ax = new ArrayList<>();
        Set<String> names = new HashSet<>();
        try {
            for (Map.Entry<String, Object> g : b.gridTree) {
                String n = Axis.checkName(g.getKey(), b.gridOrigin);
                ax.add(new Axis(n, Axis.Kind.VARIABLE, Axis.fromTree(g.getValue(), b.gridOrigin + ": " + n)));
            }
            for (String[] g : b.grid) {
                String n = Axis.checkName(g[0], "--grid");
                ax.add(new Axis(n, Axis.Kind.VARIABLE, Axis.parseValues(g[1], "--grid " + n)));
            }
        } catch (IllegalArgumentException e) {
            throw DiscoException.badInput(e.getMessage(), e);
        }
        if (b.seeds != null) {
            for (Object s : b.seeds) {
                if (!(s instanceof Long l) || l < 0 || l > 0xFFFFFFFFL) {
                    throw DiscoException.badInput(b.seedsOrigin + ": expected whole numbers from 0 to 2^32, found '"
                            + Expr.abbreviate(Expr.format(s)) + "'");
                }
            }
            ax.add(new Axis("seed", Axis.Kind.SEED, b.seeds));
        }
        if (b.prompts != null) ax.add(new Axis("prompt", Axis.Kind.PROMPT, b.prompts));
        for (Axis a : ax) {
            if (!names.add(a.name())) throw DiscoException.badInput("sweep: two axes named '" + a.name() + "'");
        }
        this.axes = List.copyOf(ax);
        List<Expr> cs = new ArrayList<>();
        for (String[] w : b.where) {
            Expr e;
            try {
                e = Expr.parse(w[0]);
            } catch (IllegalArgumentException ex) {
                throw DiscoException.badInput(w[1] + ": " + ex.getMessage(), ex);
            }
            for (String v : e.variables()) {
                if (!names.contains(v)) {
                    throw DiscoException.badInput(w[1] + ": '" + Expr.abbreviate(w[0]) + "': unknown variable '" + v
                            + "' (axes: " + names + ")");
                }
            }
            cs.add(e);
            whereOrigins.put(e, w[1]);
        }
        this.constraints = List.copyOf(cs);
        List<Template> ts = new ArrayList<>();
        Set<String> keys = new HashSet<>();
        for (String[] t : b.templates) ts.add(template(t[0], t[1], t[2], names, keys));
        this.templates = List.copyOf(ts);
        for (String a : b.contactAxes) {
            if (!names.contains(a.strip())) throw DiscoException.badInput("--axes: unknown axis '" + a.strip() + "' (axes: " + names + ")");
        }
        if (b.contactAxes.size() > 2) throw DiscoException.badInput("--axes: expected ROW[,COLUMN], found " + b.contactAxes.size() + " axes");
        this.contactAxes = b.contactAxes.stream().map(String::strip).toList();
        Set<String> used = new HashSet<>();
        for (Template t : templates) for (Object p : t.parts()) if (p instanceof Expr e) used.addAll(e.variables());
        for (Axis a : axes) {
            if (a.kind() == Axis.Kind.VARIABLE && !used.contains(a.name()) && a.values().size() > 1) {
                warnings.add("sweep: variable '" + a.name() + "' is in no template: its runs differ in nothing but their names");
            }
        }
    }

    private static Template template(String key, String text, String origin, Set<String> names, Set<String> keys) {
        String[] k = SettingsIO.commandLineKey(origin, key);
        String top = k[0], entry = k[1];
        if (!keys.add(top + (entry == null ? "" : "." + entry))) {
            throw DiscoException.badInput(origin + ": '" + key + "': set twice");
        }
        List<Object> parts;
        try {
            parts = Expr.templateParts(text);
        } catch (IllegalArgumentException e) {
            throw DiscoException.badInput(origin + ": " + key + ": " + e.getMessage(), e);
        }
        for (Object p : parts) {
            if (p instanceof Expr e) {
                for (String v : e.variables()) {
                    if (!names.contains(v)) {
                        throw DiscoException.badInput(origin + ": " + key + ": '" + Expr.abbreviate(text)
                                + "': unknown variable '" + v + "' (axes: " + names + ")");
                    }
                }
            }
        }
        return new Template(key, top, entry, text, parts, origin);
    }

    /** The base settings file (the sweep file's {@code settings} or {@code --settings}), or null. */
    public Path settingsFile() {
        return settingsFile;
    }

    public List<Axis> axes() {
        return axes;
    }

    public Axis axis(String name) {
        for (Axis a : axes) if (a.name().equals(name)) return a;
        return null;
    }

    public List<Template> templates() {
        return templates;
    }

    public List<Expr> constraints() {
        return constraints;
    }

    /** Warnings met while reading the definition and expanding the runs (deduplicated). */
    public List<String> warnings() {
        return List.copyOf(new LinkedHashSet<>(warnings));
    }

    /**
     * The contact sheet's row and column axes: those asked for, else the first two axes with more than one value
     * (an axis list may be shorter: one row, or a single cell).
     */
    public List<String> contactAxes() {
        if (!contactAxes.isEmpty()) return contactAxes;
        List<String> out = new ArrayList<>();
        for (Axis a : axes) if (a.values().size() > 1 && out.size() < 2) out.add(a.name());
        return out;
    }

    /**
     * Expands the sweep: the product of the axes (first axis slowest), filtered by the constraints, each run's
     * settings built and validated and its step plan made. {@code seedIfUnset} replaces a null seed (so every run of
     * the sweep shares one random seed).
     */
    public List<SweepRun> runs(Long seedIfUnset) {
        Map<String, Object> tree0;
        String label = settingsFile == null ? "settings" : settingsFile.toString();
        List<String> w = new ArrayList<>();
        tree0 = settingsFile == null ? new LinkedHashMap<>() : SettingsIO.readTree(settingsFile);
        tree0 = SettingsIO.normalize(tree0, label, w);
        int total = 1;
        for (Axis a : axes) total = Math.multiplyExact(total, a.values().size());
        List<SweepRun> out = new ArrayList<>();
        int[] idx = new int[axes.size()];
        Set<String> dirs = new HashSet<>();
        for (int c = 0; c < total; c++) {
            int r = c;
            for (int k = axes.size() - 1; k >= 0; k--) {
                idx[k] = r % axes.get(k).values().size();
                r /= axes.get(k).values().size();
            }
            Map<String, Object> vars = new LinkedHashMap<>();
            for (int k = 0; k < axes.size(); k++) {
                Axis a = axes.get(k);
                Object v = a.values().get(idx[k]);
                vars.put(a.name(), a.kind() == Axis.Kind.PROMPT ? (Object) (long) idx[k] : v);
            }
            boolean keep = true;
            for (Expr e : constraints) {
                try {
                    keep &= e.test(vars);
                } catch (IllegalArgumentException ex) {
                    throw DiscoException.badInput(whereOrigins.getOrDefault(e, "--where") + ": " + ex.getMessage()
                            + " (at " + vars + ")", ex);
                }
                if (!keep) break;
            }
            if (!keep) continue;
            String name = runName(vars);
            if (!dirs.add(name)) throw new IllegalStateException("two runs named " + name);
            out.add(build(out.size(), name, idx.clone(), vars, deepCopy(tree0), label, w, seedIfUnset));
        }
        warnings.addAll(w);
        if (out.isEmpty()) {
            String origin = constraints.isEmpty() ? "sweep" : whereOrigins.getOrDefault(constraints.get(0), "--where");
            throw DiscoException.badInput(origin + ": the constraints " + constraints.stream().map(c -> Expr.abbreviate(c.source())).toList()
                    + " exclude all " + total + " combinations: nothing to run");
        }
        return out;
    }

    /** The run's name and directory: {@code name=value} per axis joined by '_' ({@code prompt} by index). */
    String runName(Map<String, Object> vars) {
        if (vars.isEmpty()) return "run";
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Object> e : vars.entrySet()) {
            if (sb.length() > 0) sb.append('_');
            String v = Expr.format(e.getValue()).replaceAll("[^A-Za-z0-9.+-]", "-");
            if (v.length() > 40) v = v.substring(0, 40);
            sb.append(e.getKey()).append('=').append(v);
        }
        return sb.toString();
    }

    private SweepRun build(int index, String name, int[] idx, Map<String, Object> vars, Map<String, Object> tree,
                           String label, List<String> w, Long seedIfUnset) {
        Map<String, String> overridden = new LinkedHashMap<>(); // key -> where it was set, for messages
        String where = "sweep run " + name;
        Template current = null;
        try {
            for (Template t : templates) {
                current = t;
                String text = t.render(vars);
                if (t.entry() == null) {
                    Map<String, String> set = new LinkedHashMap<>();
                    set.put(t.top(), text);
                    for (String k : new SettingsOverrides(null, null, null, null, null, null, null, set).applyTo(tree, w)) {
                        overridden.put(k, t.origin());
                    }
                } else if (t.top().equals("clip_models_schedules")) {
                    Map<String, String> sc = new LinkedHashMap<>();
                    sc.put(t.entry(), text);
                    for (String k : new SettingsOverrides(null, null, sc, null, null, null, null, null).applyTo(tree, w)) {
                        overridden.put(k, t.origin());
                    }
                } else {
                    Map<String, Object> m = new LinkedHashMap<>();
                    if (tree.get(t.top()) instanceof Map<?, ?> old) old.forEach((k, v) -> m.put(String.valueOf(k), v));
                    m.put(t.entry(), yaml(text));
                    tree.put(t.top(), m);
                    overridden.put(t.top(), t.origin());
                }
            }
        } catch (IllegalArgumentException e) {
            throw DiscoException.badInput(where + ": " + (current == null ? "--set" : current.origin() + ": " + current.key())
                    + ": " + e.getMessage(), e);
        }
        for (String k : base.applyTo(tree, w)) overridden.put(k, "command line"); // --steps, --seed, ... win over the sweep's values
        for (Axis a : axes) {
            if (a.kind() == Axis.Kind.SEED) {
                tree.put("seed", vars.get(a.name()));
                overridden.put("seed", "sweep seeds");
            } else if (a.kind() == Axis.Kind.PROMPT) {
                Object p = a.values().get(((Long) vars.get(a.name())).intValue());
                tree.put("text_prompts", p instanceof List<?> l ? new ArrayList<>(l) : new ArrayList<>(List.of(String.valueOf(p))));
                overridden.put("text_prompts", "sweep prompts");
            }
        }
        if (tree.get("seed") == null && seedIfUnset != null) tree.put("seed", seedIfUnset);
        tree.put("batch_name", name);
        Settings s;
        try {
            s = SettingsIO.build(tree, label, overridden, w);
        } catch (DiscoException e) {
            throw new DiscoException(e.exitCode(), where + ": " + e.getMessage(), e);
        }
        StepPlan plan;
        try {
            plan = StepPlan.of(s);
        } catch (IllegalArgumentException e) {
            throw DiscoException.badInput(where + ": " + e.getMessage(), e);
        }
        return new SweepRun(index, name, idx, Map.copyOf(vars), s, plan);
    }

    private static Object yaml(String text) {
        try {
            return new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
        } catch (YAMLException e) {
            return text;
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> deepCopy(Map<String, Object> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : m.entrySet()) {
            Object v = e.getValue();
            if (v instanceof Map<?, ?> mm) v = deepCopy((Map<String, Object>) mm);
            else if (v instanceof List<?> l) v = new ArrayList<>(l);
            out.put(e.getKey(), v);
        }
        return out;
    }

    /** A digest of what determines the runs (to refuse resuming a sweep directory with another definition). */
    public static String digest(List<SweepRun> runs) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
            for (SweepRun r : runs) {
                md.update(r.name().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                md.update(om.writeValueAsBytes(SettingsIO.toMap(r.settings())));
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException | com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Keys that do not shape a trajectory (outputs, batch count) or that the step plan already covers. */
    static final Set<String> NOT_TRAJECTORY = Set.of("batch_name", "save_rate", "intermediate_saves", "n_batches",
            "clip_models_schedules", "display_rate", "intermediates_in_subfolder", "check_model_SHA", "gif_fps",
            "gif_size_ratio");
}
