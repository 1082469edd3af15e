package disco.settings;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * DiscoArt's version-1 prompts: {@code text_prompts: {version: '1', prompts: [...]}}. Each prompt has a text (a
 * {@code :weight} suffix is split off as DiscoArt's {@code PromptParser._split_weight} does, and used when
 * {@code weight} is absent), a {@code weight} that is a number or a schedule, a {@code schedule} (on/off, default
 * always on) and {@code clip_guidance}, the CLIP models it guides (default: all of {@code clip_models}).
 *
 * <p>At a schedule index DiscoArt's {@code PromptPlanner.get_prompt_ids} takes, per CLIP model, the prompts (in
 * order) whose weight there is non-zero, whose schedule there is true and whose {@code clip_guidance} holds the
 * model; {@link #select} returns exactly those. The normalisation of their weights is the plan's
 * ({@code disco.plan.PromptWeights}).
 *
 * <p>Immutable. The sources are kept as written so {@link #toValue()} writes back what loads to equal prompts.
 */
public final class PromptsV1 {
    /** The only version DiscoArt knows (its {@code prompt.py} compares with the string {@code '1'}). */
    public static final String VERSION = "1";
    /** Keys of a prompt entry this engine reads; {@code spellcheck} is DiscoArt's spell checker, not run here. */
    static final Set<String> ENTRY_KEYS = Set.of("text", "weight", "schedule", "clip_guidance");

    private static final Pattern FLOAT = Pattern.compile("\\s*[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?\\s*");

    /** One prompt. */
    public static final class Entry {
        private final String text;
        private final String weightSource;
        private final String scheduleSource;
        private final List<String> clipGuidance;
        private final String parsedText;
        private final Schedule weight;
        private final Schedule schedule;

        /**
         * @param text           the text as written (may end in {@code :weight})
         * @param weightSource   the weight as a schedule source, or null (then the text's suffix, else 1)
         * @param scheduleSource the on/off schedule source, or null (always on)
         * @param clipGuidance   the CLIP models this prompt guides as written, or null (every model)
         * @throws IllegalArgumentException naming the field
         */
        public Entry(String text, String weightSource, String scheduleSource, List<String> clipGuidance) {
            this.text = Objects.requireNonNull(text, "text");
            this.weightSource = weightSource;
            this.scheduleSource = scheduleSource;
            this.clipGuidance = clipGuidance == null ? null : List.copyOf(clipGuidance);
            // DiscoArt: rsplit(':', 1) whenever there is a ':', float() of the rest (an error when it is no number)
            int cut = text.lastIndexOf(':');
            String suffixWeight = "1";
            if (cut >= 0) {
                String w = text.substring(cut + 1);
                if (!FLOAT.matcher(w).matches()) {
                    throw new IllegalArgumentException("text: \"" + ScheduleExpr.abbreviate(text) + "\": the text after"
                            + " the last ':' must be a weight (a number), found \"" + ScheduleExpr.abbreviate(w) + "\"");
                }
                suffixWeight = w.strip();
                this.parsedText = text.substring(0, cut);
            } else {
                this.parsedText = text;
            }
            try {
                this.weight = ScheduleExpr.parse(weightSource != null ? weightSource : suffixWeight);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException((weightSource != null ? "weight: " : "text: weight suffix: ")
                        + e.getMessage());
            }
            for (int i = 0; i < Schedule.LENGTH; i++) {
                if (!Double.isFinite(weight.number(i))) {
                    throw new IllegalArgumentException("weight: entry " + i + " is not finite");
                }
            }
            try {
                this.schedule = ScheduleExpr.parse(scheduleSource != null ? scheduleSource : "True");
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("schedule: " + e.getMessage());
            }
        }

        /** The text as written. */
        public String text() {
            return text;
        }

        /** The text without its {@code :weight} suffix: what the CLIP models encode. */
        public String parsedText() {
            return parsedText;
        }

        public String weightSource() {
            return weightSource;
        }

        public String scheduleSource() {
            return scheduleSource;
        }

        /** The CLIP models this prompt guides as written, or null for every model. */
        public List<String> clipGuidance() {
            return clipGuidance;
        }

        /** The weight at every schedule index. */
        public Schedule weight() {
            return weight;
        }

        /** Whether the prompt is on at every schedule index. */
        public Schedule schedule() {
            return schedule;
        }

        Entry withClipGuidance(List<String> g) {
            return new Entry(text, weightSource, scheduleSource, g);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e && text.equals(e.text) && Objects.equals(weightSource, e.weightSource)
                    && Objects.equals(scheduleSource, e.scheduleSource) && Objects.equals(clipGuidance, e.clipGuidance);
        }

        @Override
        public int hashCode() {
            return Objects.hash(text, weightSource, scheduleSource, clipGuidance);
        }
    }

    /** The prompts active for one model at one schedule index: their positions and their weights there. */
    public record Selection(List<Integer> ids, List<Double> weights) {
        public Selection {
            ids = List.copyOf(ids);
            weights = List.copyOf(weights);
        }

        public boolean isEmpty() {
            return ids.isEmpty();
        }
    }

    private final List<Entry> prompts;

    public PromptsV1(List<Entry> prompts) {
        if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("prompts: expected at least one prompt");
        this.prompts = List.copyOf(prompts);
    }

    public List<Entry> prompts() {
        return prompts;
    }

    /** The texts as written, in order. */
    public List<String> texts() {
        return prompts.stream().map(Entry::text).toList();
    }

    /** The texts the CLIP models encode (suffixes split off), in order. */
    public List<String> parsedTexts() {
        return prompts.stream().map(Entry::parsedText).toList();
    }

    /**
     * The prompts guiding {@code model} at schedule index {@code schedIndex}: weight non-zero, schedule true, the
     * model in {@code clip_guidance} (compared as written: see {@link #withClipGuidance}).
     */
    public Selection select(String model, int schedIndex) {
        List<Integer> ids = new ArrayList<>();
        List<Double> w = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            Entry p = prompts.get(i);
            double wi = p.weight.number(schedIndex);
            if (wi == 0 || !p.schedule.bool(schedIndex)) continue;
            if (p.clipGuidance != null && !p.clipGuidance.contains(model)) continue;
            ids.add(i);
            w.add(wi);
        }
        return new Selection(ids, w);
    }

    /**
     * The same prompts with every {@code clip_guidance} entry rewritten by {@code rename} (e.g. another spelling of a
     * model to the {@code clip_models} entry as written); {@code rename} throws for a name it does not know.
     */
    public PromptsV1 withClipGuidance(UnaryOperator<String> rename) {
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            Entry p = prompts.get(i);
            if (p.clipGuidance == null) {
                out.add(p);
                continue;
            }
            Set<String> g = new LinkedHashSet<>();
            for (String m : p.clipGuidance) {
                try {
                    g.add(rename.apply(m));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("prompts[" + i + "]: clip_guidance: " + e.getMessage());
                }
            }
            out.add(p.withClipGuidance(new ArrayList<>(g)));
        }
        return new PromptsV1(out);
    }

    /** Whether {@code v} (a {@code text_prompts} value) is a version-1 mapping rather than DD's list or frames. */
    public static boolean isV1(Object v) {
        return v instanceof Map<?, ?> m && (m.containsKey("version") || m.containsKey("prompts"));
    }

    /**
     * Reads a {@code text_prompts} mapping; {@code warnings} receives keys that are read but not used. Errors are
     * {@link IllegalArgumentException}s whose message names the field ({@code "prompts[2]: weight: ..."}).
     */
    public static PromptsV1 fromValue(Object value, List<String> warnings) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException("expected {version: '1', prompts: [...]}, found " + SettingsIO.describe(value));
        }
        Object version = m.get("version");
        if (!VERSION.equals(version)) {
            throw new IllegalArgumentException("version: expected the string '1' (DiscoArt's prompt schema version 1),"
                    + " found " + SettingsIO.describe(version));
        }
        for (Object k : m.keySet()) {
            if (!"version".equals(k) && !"prompts".equals(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "'; expected version and prompts");
            }
        }
        Object ps = m.get("prompts");
        if (!(ps instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException("prompts: expected a non-empty list of prompts, found " + SettingsIO.describe(ps));
        }
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String at = "prompts[" + i + "]";
            Object e = list.get(i);
            if (!(e instanceof Map<?, ?> pm)) {
                throw new IllegalArgumentException(at + ": expected a mapping with text (and weight, schedule,"
                        + " clip_guidance), found " + SettingsIO.describe(e));
            }
            List<String> unused = new ArrayList<>();
            for (Object k : pm.keySet()) {
                if (!ENTRY_KEYS.contains(String.valueOf(k))) unused.add(String.valueOf(k));
            }
            if (!unused.isEmpty() && warnings != null) {
                warnings.add("text_prompts: " + at + ": keys this engine does not use, ignored: " + String.join(", ", unused));
            }
            if (!(pm.get("text") instanceof String text)) {
                throw new IllegalArgumentException(at + ": text: expected a string, found " + SettingsIO.describe(pm.get("text")));
            }
            String weight = null, schedule = null;
            List<String> guidance = null;
            try {
                if (pm.get("weight") != null) weight = SettingsIO.scheduleSource(pm.get("weight"));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException(at + ": weight: " + ex.getMessage());
            }
            try {
                if (pm.get("schedule") != null) schedule = SettingsIO.scheduleSource(pm.get("schedule"));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException(at + ": schedule: " + ex.getMessage());
            }
            Object g = pm.get("clip_guidance");
            if (g != null) {
                if (!(g instanceof List<?> gl)) {
                    throw new IllegalArgumentException(at + ": clip_guidance: expected a list of CLIP models, found "
                            + SettingsIO.describe(g));
                }
                guidance = new ArrayList<>();
                for (Object x : gl) {
                    if (!(x instanceof String s)) {
                        throw new IllegalArgumentException(at + ": clip_guidance: expected a list of CLIP models, found"
                                + " an entry " + SettingsIO.describe(x));
                    }
                    guidance.add(s);
                }
            }
            try {
                out.add(new Entry(text, weight, schedule, guidance));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException(at + ": " + ex.getMessage());
            }
        }
        return new PromptsV1(out);
    }

    /** The value as {@code text_prompts} is written: {@code {version: '1', prompts: [...]}} with the sources. */
    public Map<String, Object> toValue() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", VERSION);
        List<Object> ps = new ArrayList<>();
        for (Entry p : prompts) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("text", p.text);
            if (p.weightSource != null) e.put("weight", SettingsIO.scheduleValue(p.weightSource));
            if (p.scheduleSource != null) e.put("schedule", SettingsIO.scheduleValue(p.scheduleSource));
            if (p.clipGuidance != null) e.put("clip_guidance", p.clipGuidance);
            ps.add(e);
        }
        m.put("prompts", ps);
        return m;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PromptsV1 p && prompts.equals(p.prompts);
    }

    @Override
    public int hashCode() {
        return prompts.hashCode();
    }
}
