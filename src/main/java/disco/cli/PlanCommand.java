package disco.cli;

import disco.util.ExitCodes;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import disco.plan.DiffusionSchedule;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.settings.Schedule;
import disco.settings.ScheduleExpr;
import disco.settings.Settings;
import disco.util.DiscoException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import disco.plan.PromptWeights;
import disco.settings.PromptsV1;
import disco.settings.Scheduled;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.concurrent.Callable;

@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Show what the settings decide for every executed step (timestep, schedule index, active CLIP"
                + " models, cutouts and every scheduled scalar), a summary per model, and a warning for steps"
                + " that no CLIP model guides.")
public final class PlanCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    SettingsOptions options;

    @Option(names = "--json", description = "print the plan as a JSON list of steps (summary and warnings on stderr)")
    boolean json;

    @Option(names = "--estimate", arity = "0..1", paramLabel = "cpu|cuda", fallbackValue = "cpu",
            description = "load the networks (from --model-dir) on this device and print the memory estimate of the"
                    + " run's largest step, as `disco run --dry-run` does (default device: cpu), and the estimated time"
                    + " of the run on this machine (see --calibration)")
    String estimate;

    @Mixin
    TimeEstimates.Flags calibration = new TimeEstimates.Flags();

    @Option(names = "--model-dir", paramLabel = "DIR",
            description = "with --estimate: the model directory (default: $DISCO_MODELS, else ~/.cache/disco/models)")
    java.nio.file.Path modelDir;

    @Override
    public Integer call() {
        if (modelDir != null && estimate == null) throw DiscoException.badInput("--model-dir: expected together with --estimate");
        if (estimate == null && spec.commandLine().getParseResult().hasMatchedOption("--calibration")) {
            throw DiscoException.badInput("--calibration: expected together with --estimate");
        }
        Settings s = options.load().settings();
        StepPlan plan;
        try {
            plan = StepPlan.of(s);
        } catch (IllegalArgumentException e) {
            throw DiscoException.badInput(where() + ": " + e.getMessage(), e);
        }
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        TimeEstimates times = estimate == null ? null : new TimeEstimates(calibration.calibration, m -> {
            err.println(m);
            err.flush();
        });
        if (json) {
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            try {
                out.println(om.writeValueAsString(plan.toJsonList()));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            printSummary(plan, s, err);
            printPrompts(s, plan, err);
        } else {
            printTable(plan, out);
            printSummary(plan, s, out);
            printPrompts(s, plan, out);
            printCutSchedules(s, out);
        }
        String warning = plan.unguidedWarning();
        if (warning != null) err.println("disco: warning: " + warning);
        for (String w : plan.scheduleWarnings()) err.println("disco: warning: " + w);
        if (estimate != null) {
            // the run's options with their defaults (picocli applies them), on the chosen device and model directory
            RunSupport.ExecOptions o = new RunSupport.ExecOptions();
            new picocli.CommandLine(o).parseArgs("--device", estimate);
            o.modelDir = modelDir;
            org.bytedeco.pytorch.Device device = RunSupport.device(estimate);
            try (disco.run.Pipeline p = RunSupport.engine(s, o, device)) {
                disco.run.MemoryEstimate.Inputs in = disco.run.MemoryEstimate.inputs(p);
                for (String line : disco.run.MemoryEstimate.describe(in, disco.run.MemoryEstimate.estimate(in, p.clipBatch()), null,
                        disco.run.MemoryEstimate.availableBytes(device))) {
                    (json ? err : out).println(line);
                }
                (json ? err : out).flush();
                disco.sweep.TimeEstimate.Calibration c = times.calibration(s, p, disco.sweep.TimeEstimate.kinds(plan),
                        cs -> RunSupport.pipeline(cs, p.networks(), p.perf(), device));
                (json ? err : out).println(times.runLine(c, plan, s));
            }
        }
        out.flush();
        err.flush();
        return ExitCodes.OK;
    }

    private String where() {
        return options.file == null ? "settings" : options.file.toString();
    }

    private static void printTable(StepPlan plan, PrintWriter out) {
        DiffusionSchedule ds = plan.schedule();
        out.printf("# %d executed steps of %d (%s over %d diffusion steps)%n", plan.size(), ds.numSteps(),
                ds.respacing(), ds.originalNumSteps());
        out.printf("%5s %5s %5s %6s %4s %4s %6s %6s %4s %4s %8s %6s %6s %6s %6s %5s %6s  %s%n",
                "step", "index", "t", "sched", "over", "inner", "ic_pow", "gray_p", "cutb", "sec", "clip_gs", "tv",
                "range", "sat", "init", "clamp", "c_max", "active");
        for (PlanStep p : plan.steps()) {
            out.printf("%5d %5d %5d %6d %4d %4d %6s %6s %4d %4s %8s %6s %6s %6s %6s %5s %6s  %s%n",
                    p.step(), p.index(), p.t(), p.schedIndex(), p.overview(), p.innercut(), num(p.icPow()),
                    num(p.icgrayP()), p.cutnBatches(), p.useSecondaryModel() ? "yes" : "no",
                    num(p.clipGuidanceScale()), num(p.tvScale()), num(p.rangeScale()), num(p.satScale()),
                    num(p.initScale()), p.clampGrad() ? "yes" : "no", num(p.clampMax()),
                    p.active().isEmpty() ? "-" : active(p));
        }
    }

    /** The active models; with v1 prompts each with the ids of the prompts guiding it: {@code ViT-B/32(0,2)}. */
    private static String active(PlanStep p) {
        List<String> out = new ArrayList<>();
        for (String m : p.active()) {
            PromptWeights pw = p.promptsOf(m);
            out.add(pw == null ? m : m + "(" + pw.ids().stream().map(String::valueOf).collect(Collectors.joining(","))
                    + ")");
        }
        return String.join(", ", out);
    }

    /**
     * DiscoArt's v1 prompts: the prompts, then per model the runs of consecutive steps with the same prompts and
     * weights (the normalised weights the loss uses).
     */
    private static void printPrompts(Settings s, StepPlan plan, PrintWriter out) {
        if (s.promptsV1() == null) return;
        out.println("# prompts (DiscoArt v1: weights L2-normalised per step and model, in float16)");
        List<PromptsV1.Entry> ps = s.promptsV1().prompts();
        for (int i = 0; i < ps.size(); i++) out.printf("%d: %s%n", i, ps.get(i).parsedText());
        for (String m : plan.models()) {
            int start = 0;
            for (int j = 1; j <= plan.size(); j++) {
                PromptWeights a = plan.step(start).promptsOf(m);
                if (j < plan.size() && java.util.Objects.equals(a, plan.step(j).promptsOf(m))) continue;
                String what;
                if (a == null) {
                    what = "off";
                } else {
                    List<String> w = new ArrayList<>();
                    for (int k = 0; k < a.ids().size(); k++) {
                        w.add(a.ids().get(k) + " (" + num(a.raw().get(k)) + " -> " + num(a.weights().get(k)) + ")");
                    }
                    what = "prompts " + String.join(", ", w);
                }
                out.printf("%s: steps %d-%d (schedule %d-%d): %s%n", m, start, j - 1, plan.step(start).schedIndex(),
                        plan.step(j - 1).schedIndex(), what);
                start = j;
            }
        }
    }

    /** The cut schedules in force (after DiscoArt's cut_schedules_group and DD's presets for KaliYuga's models). */
    private static void printCutSchedules(Settings s, PrintWriter out) {
        out.println("# cut schedules");
        for (Scheduled k : List.of(Scheduled.CUT_OVERVIEW, Scheduled.CUT_INNERCUT, Scheduled.CUT_IC_POW,
                Scheduled.CUT_ICGRAY_P)) {
            out.println(k.key() + ": " + s.scheduleSource(k));
        }
    }

    private static void printSummary(StepPlan plan, Settings s, PrintWriter out) {
        out.println("# models (" + plan.size() + " executed steps)");
        for (StepPlan.ModelSummary m : plan.summaries()) {
            if (m.stepsOn() == 0) {
                out.printf("%s: on 0 of %d steps%n", m.model(), plan.size());
            } else {
                out.printf("%s: on %d of %d steps, first step %d (schedule %d), last step %d (schedule %d)%n",
                        m.model(), m.stepsOn(), plan.size(), m.firstStep(), plan.step(m.firstStep()).schedIndex(),
                        m.lastStep(), plan.step(m.lastStep()).schedIndex());
            }
        }
        java.util.Map<String, Long> images = plan.clipImages(s.batchSize(), "plms".equals(s.diffusionSamplingMode()));
        StringBuilder sb = new StringBuilder();
        images.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ").append(k).append(' ').append(v * s.nBatches()));
        out.printf("# cost: %d executed steps (%d per batch x %d batch%s); CLIP images encoded: %s%n",
                (long) plan.size() * s.nBatches(), plan.size(), s.nBatches(), s.nBatches() == 1 ? "" : "es",
                sb.length() == 0 ? "none" : sb);
    }

    private static String num(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e9) return Long.toString((long) v);
        return ScheduleExpr.literal(v, Schedule.Kind.FLOAT);
    }
}
