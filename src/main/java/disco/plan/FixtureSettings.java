package disco.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.settings.Scheduled;
import disco.settings.SettingsIO;
import disco.util.DiscoException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code settings.json} of a reference directory (the fixtures' layout: DD's keys, flat — {@code steps},
 * {@code skip_steps}, {@code clip_models}, {@code schedules} or {@code clip_models_schedules}, the cut and scalar
 * schedules) and the diffusion schedule and step plan it describes. Read by the reference checks and by
 * {@code bench step --reference}; it checks nothing itself.
 */
public record FixtureSettings(Path file, JsonNode json) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** {@code file} parsed; bad input naming it when it cannot be read. */
    public static FixtureSettings read(Path file) {
        try {
            return new FixtureSettings(file, JSON.readTree(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw DiscoException.badInput(file + ": cannot read JSON (" + e.getMessage() + ")", e);
        }
    }

    /** The value of {@code key}; bad input naming the file and key when it is missing or null. */
    public JsonNode need(String key) {
        JsonNode v = json.get(key);
        if (v == null || v.isNull()) throw DiscoException.badInput(file + ": " + key + ": missing");
        return v;
    }

    /**
     * The diffusion schedule: {@code steps}, {@code diffusion_steps}, {@code timestep_respacing},
     * {@code noise_schedule} (linear when absent) and {@code rescale_timesteps} (true when absent) where given.
     */
    public DiffusionSchedule schedule() {
        return schedule(file, json);
    }

    /** {@link #schedule()} of any JSON object with those keys (e.g. {@code schedule_cosine.json}). */
    public static DiffusionSchedule schedule(Path file, JsonNode json) {
        JsonNode st = json.get("steps");
        if (st == null || !st.canConvertToInt()) throw DiscoException.badInput(file + ": steps: missing");
        int steps = st.asInt();
        int diffusionSteps = json.hasNonNull("diffusion_steps") ? json.get("diffusion_steps").asInt()
                : DiffusionSchedule.diffusionSteps(steps);
        String respacing = json.hasNonNull("timestep_respacing") ? json.get("timestep_respacing").asText() : null;
        String noise = json.hasNonNull("noise_schedule") ? json.get("noise_schedule").asText() : "linear";
        boolean rescale = !json.hasNonNull("rescale_timesteps") || json.get("rescale_timesteps").asBoolean();
        try {
            return DiffusionSchedule.create(diffusionSteps, steps, respacing, noise, rescale);
        } catch (IllegalArgumentException e) {
            throw DiscoException.badInput(file + ": " + e.getMessage(), e);
        }
    }

    /** {@code clip_models}, in order. */
    public List<String> clipModels() {
        List<String> models = new ArrayList<>();
        for (JsonNode m : need("clip_models")) models.add(m.asText());
        return models;
    }

    /** Per CLIP model its schedule expression ({@code schedules}, else {@code clip_models_schedules}). */
    public Map<String, String> modelSchedules() {
        Map<String, String> out = new LinkedHashMap<>();
        JsonNode sch = json.has("schedules") ? json.get("schedules") : json.get("clip_models_schedules");
        if (sch != null && sch.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = sch.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isNull()) out.put(e.getKey(), source(e.getKey(), e.getValue()));
            }
        }
        return out;
    }

    /** Every scheduled scalar the file sets, as the source text a step plan parses; a fresh map to edit. */
    public Map<Scheduled, String> scalars() {
        Map<Scheduled, String> out = new EnumMap<>(Scheduled.class);
        for (Scheduled k : Scheduled.values()) {
            JsonNode v = json.get(k.key());
            if (v != null && !v.isNull()) out.put(k, source(k.key(), v));
        }
        return out;
    }

    /** {@code skip_steps}, 0 when absent. */
    public int skipSteps() {
        return json.hasNonNull("skip_steps") ? json.get("skip_steps").asInt() : 0;
    }

    /** The step plan of the file: its CLIP models, their schedules and {@link #scalars()}. */
    public StepPlan plan() {
        return plan(scalars());
    }

    /** The step plan of the file with {@code scalars} in place of {@link #scalars()}. */
    public StepPlan plan(Map<Scheduled, String> scalars) {
        return StepPlan.build(schedule(), skipSteps(), clipModels(), modelSchedules(), scalars);
    }

    /** A JSON value of the file as schedule-language text ({@link SettingsIO#scheduleSource}). */
    private String source(String key, JsonNode v) {
        try {
            return SettingsIO.scheduleSource(JSON.convertValue(v, Object.class));
        } catch (IllegalArgumentException e) {
            throw DiscoException.badInput(file + ": " + key + ": " + e.getMessage(), e);
        }
    }
}
