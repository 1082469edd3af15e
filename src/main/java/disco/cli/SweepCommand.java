package disco.cli;

import disco.util.ExitCodes;
import disco.plan.StepPlan;
import disco.guidance.NativeCutoutStage;
import disco.guidance.TorchLossKernels;
import disco.models.registry.ModelDir;
import disco.models.registry.Registry;
import disco.run.PerfOptions;
import disco.run.Pipeline;
import disco.run.Engine;
import disco.run.ModelLoader;
import disco.run.StopAt;
import disco.settings.Settings;
import disco.sweep.SweepExecutor;
import org.bytedeco.pytorch.Device;
import disco.settings.SettingsOverrides;
import disco.sweep.Axis;
import disco.sweep.PrefixTree;
import disco.sweep.SweepDef;
import disco.sweep.SweepRun;
import disco.sweep.SweepState;
import disco.util.DiscoException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = "Run a grid of settings (variables with values or ranges, constraints, templates, seeds and"
                + " prompts) as a tree of shared trajectory prefixes: steps on which runs agree run once. Writes a"
                + " directory per run, contact sheets and index.html. --dry-run only plans.")
public final class SweepCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "SWEEP_FILE",
            description = "a sweep file (YAML or JSON: settings, set, grid, where, seeds, prompts, axes)")
    Path file;

    @Mixin
    SettingsOptions options;

    @Option(names = "--grid", paramLabel = "NAME=VALUES",
            description = "a variable and its values: a list (0,200,1000) or an inclusive range start:end:step (repeatable)")
    List<String> grid = new ArrayList<>();

    @Option(names = "--where", paramLabel = "EXPR",
            description = "a constraint on the variables, e.g. 's1+s2>=1000' (repeatable; all must hold)")
    List<String> where = new ArrayList<>();

    @Option(names = "--seeds", paramLabel = "LIST", description = "seeds as an axis named 'seed': 1,2,3 or 0:9")
    String seeds;

    @Option(names = "--prompts", paramLabel = "TEXT[:WEIGHT]",
            description = "a prompt as a value of the axis 'prompt' (repeatable: one run per prompt)")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--axes", paramLabel = "ROW[,COLUMN]", split = ",",
            description = "the contact sheet's row and column axes (default: the first two that vary)")
    List<String> axes = new ArrayList<>();

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "sweep",
            description = "the sweep directory: one directory per run, sweep.json, contact sheets, index.html (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--dry-run", description = "print the runs, their coverage warnings and the executed vs independent steps; run nothing")
    boolean dryRun;

    @Option(names = "--estimate", description = "with --dry-run: load the networks (as the sweep would, on --device"
            + " with the performance flags) and print the memory estimate of the sweep's largest step and the estimated"
            + " time of the sweep on this machine (see --calibration)")
    boolean estimate;

    @Mixin
    TimeEstimates.Flags calibration = new TimeEstimates.Flags();

    @Option(names = "--shard", paramLabel = "I/N|auto",
            description = "run part I of N of the sweep (whole prefix groups); auto: the Slurm array task or Kubernetes"
                    + " completion index (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX) of DISCO_SHARDS (or SLURM_ARRAY_TASK_COUNT)")
    String shard;

    @Option(names = "--only", paramLabel = "RUN|EXPR",
            description = "execute only these runs: names (comma-separated) or a constraint on the variables as --where"
                    + " takes it (repeatable); e.g. finish chosen previews. The report still shows the whole sweep")
    List<String> only = new ArrayList<>();

    @Option(names = "--force", description = "recompute the runs from the start even where final images or"
            + " checkpoints exist, overwriting them")
    boolean force;

    @Option(names = "--collect", description = "build the contact sheets and index.html from the runs' files in --out (after"
            + " shards) and check that every run is there: missing or failed runs are named, exit status 5")
    boolean collect;

    @Option(names = "--emit", arity = "2", paramLabel = "slurm|k8s DIR",
            description = "write a Slurm array job (sbatch scripts, submit.sh) or a Kubernetes indexed Job for --shards N"
                    + " shards and a --collect job into DIR; runs nothing")
    List<String> emit;

    @Option(names = "--shards", paramLabel = "N", description = "with --emit: the number of shards (array tasks, completions)")
    Integer shards;

    @Option(names = "--image", paramLabel = "IMAGE", description = "with --emit k8s: the container image (disco on its PATH)")
    String image;

    @Option(names = "--volume-claim", paramLabel = "NAME",
            description = "with --emit k8s: the ReadWriteMany PersistentVolumeClaim mounted at --out")
    String volumeClaim;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    RunSupport.ExecOptions exec;

    @Option(names = "--fork-memory", paramLabel = "MB", defaultValue = "1024",
            description = "fork states kept in memory up to this size; further ones are spilled to DIR/.forks (default: ${DEFAULT-VALUE})")
    long forkMemoryMb;

    @Override
    public Integer call() {
        if (estimate && !dryRun) throw DiscoException.badInput("--estimate: expected together with --dry-run");
        if (!estimate && spec.commandLine().getParseResult().hasMatchedOption("--calibration")) {
            throw DiscoException.badInput("--calibration: expected together with --dry-run --estimate");
        }
        TimeEstimates times = estimate ? new TimeEstimates(calibration.calibration, System.err::println) : null;
        SweepDef def = definition();
        if (emit != null) return emit(def);
        if (shards != null || image != null || volumeClaim != null) {
            throw DiscoException.badInput((shards != null ? "--shards" : image != null ? "--image" : "--volume-claim")
                    + ": only with --emit (--shard I/N runs one shard)");
        }
        int[] sh = shard == null ? new int[] {1, 1} : parseShard(shard);
        StopAt stop = RunSupport.stopAt(exec);
        SweepState state = null;
        Long seed = null;
        if (!dryRun) {
            state = SweepState.open(out.resolve(SweepState.fileName(sh[0], sh[1])));
            seed = state.seed();
            if (seed == null) seed = collectSeed();
        }
        if (seed == null && sh[1] > 1 && !dryRun) {
            for (SweepRun r : def.runs(null)) {
                if (r.settings().seed() == null) {
                    throw DiscoException.badInput("--shard: seed: expected a fixed seed (in the settings, the sweep or"
                            + " --seed) so that every shard runs the same sweep; run " + r.name() + " has none");
                }
            }
        }
        if (seed == null) seed = new java.security.SecureRandom().nextLong(0, 1L << 32);
        List<SweepRun> runs = def.runs(seed);
        for (String w : def.warnings()) System.err.println("disco: warning: " + w);
        PrefixTree full = PrefixTree.of(runs, r -> stop == null ? r.stepsRun() : stop.stepsFor(r.stepsRun()));
        List<PrefixTree.Trajectory> mine = sh[1] == 1 ? full.trajectories() : full.shard(sh[0], sh[1]);
        if (!only.isEmpty()) {
            java.util.Set<SweepRun> chosen = new java.util.HashSet<>(disco.sweep.RunSelection.select(runs, only));
            mine = mine.stream().filter(t -> chosen.contains(t.run())).toList();
        }
        if (dryRun) {
            printDryRun(System.out, def, runs, full, mine, sh);
            if (estimate) {
                java.util.Set<SweepRun> ran = new java.util.LinkedHashSet<>();
                for (PrefixTree.Trajectory t : mine) ran.add(t.run());
                PrefixTree tree = mine.size() == full.trajectories().size() ? full : PrefixTree.ofTrajectories(mine);
                for (String line : estimates(new ArrayList<>(ran), tree, times)) System.out.println(line);
            }
            return ExitCodes.OK;
        }
        if (collect) {
            long found = runs.stream().filter(r -> disco.sweep.SweepReport.shownImage(out, r) != null).count();
            if (found == 0) {
                throw DiscoException.badInput("--collect: " + out + ": none of the sweep's " + runs.size() + " runs has an"
                        + " image there yet (run the sweep or its shards with this --out first)");
            }
            return collect(def, runs, full);
        }
        state.bind(SweepDef.digest(runs), seed);
        // DD's useCPU: the first run's settings (a sweep runs on one device)
        Device device = RunSupport.device(exec, mine.isEmpty() ? null : mine.get(0).run().settings());
        Networks nets = new Networks(exec, device);
        boolean report = sh[1] == 1;
        // the report is written at the start and after every finished run, so a browser shows the sweep filling in
        if (report) writeReport(def, runs, full, true);
        SweepExecutor ex = new SweepExecutor(out, nets::engine, System.err).stopAt(stop).force(force)
                .forkMemory(Math.max(0, forkMemoryMb) << 20)
                .onRunFinished(r -> {
                    if (report) writeReport(def, runs, full, true);
                });
        SweepExecutor.Result res = ex.execute(mine, state);
        System.err.printf(Locale.ROOT, "disco: sweep: %d steps executed for %d trajectories (%d independent, ratio %.3f); %d already finished%n",
                res.executedSteps(), res.trajectoriesRun(), res.independentSteps(),
                res.independentSteps() == 0 ? 0.0 : (double) res.executedSteps() / res.independentSteps(), res.trajectoriesSkipped());
        java.util.Set<SweepRun> ran = new java.util.LinkedHashSet<>();
        for (PrefixTree.Trajectory t : mine) ran.add(t.run());
        for (SweepRun r : ran) System.out.println(out.resolve(r.name()));
        if (report) {
            for (Path f : writeReport(def, runs, full, false)) System.out.println(f);
        } else {
            System.err.println("disco: sweep: shard " + sh[0] + "/" + sh[1] + " done; when every shard is, build the"
                    + " contact sheet and index with the same sweep and --collect");
        }
        if (!res.diverged().isEmpty()) {
            throw new DiscoException(ExitCodes.RUN_DIVERGED, "sweep: " + res.diverged().size()
                    + " trajectories became non-finite, first: " + res.diverged().get(0));
        }
        return ExitCodes.OK;
    }

    /**
     * The networks of the sweep's runs, loaded once per distinct set (diffusion model and its config, CLIP models,
     * whether the secondary model is used) and shared by the runs' engines.
     */
    static final class Networks {
        private final RunSupport.ExecOptions exec;
        private final Device device;
        private final java.util.Map<String, Pipeline.Networks> loaded = new java.util.HashMap<>();

        Networks(RunSupport.ExecOptions exec, Device device) {
            this.exec = exec;
            this.device = device;
        }

        static String key(Settings s) {
            return s.diffusionModel() + "|" + s.diffusionModelConfig() + "|" + s.clipModels() + "|"
                    + Pipeline.needsSecondary(StepPlan.of(s)) + "|" + disco.run.ModelLoader.needsLpips(s);
        }

        Engine engine(Settings s) {
            String key = key(s);
            Pipeline.Networks n = loaded.computeIfAbsent(key, k -> {
                Pipeline.Networks nn = ModelLoader.load(s, ModelDir.resolve(exec.modelDir), Registry.builtin());
                if (!device.is_cpu()) {
                    nn.unet().to(device, false);
                    if (nn.secondary() != null) nn.secondary().to(device, false);
                    nn.clips().values().forEach(c -> c.to(device, false));
                    if (nn.lpips() != null) nn.lpips().to(device, false);
                }
                return nn;
            });
            java.util.List<String> warnings = new java.util.ArrayList<>();
            PerfOptions perf = exec.perf.options(s, device, warnings);
            for (String w : warnings) System.err.println("disco: warning: " + w);
            return Pipeline.forSettings(s, n, perf, device, msg -> System.err.println("disco: warning: " + msg));
        }
    }

    /**
     * The memory estimate of the engine's memory report ({@link disco.run.MemoryEstimate}) for the largest step of
     * any of the runs, then the estimated time of the tree ({@link disco.sweep.TimeEstimate}): the networks are loaded
     * once per set, as the sweep loads them, and each set (with its size, batch and options) is calibrated once.
     */
    private List<String> estimates(List<SweepRun> runs, PrefixTree tree, TimeEstimates times) {
        disco.run.MemoryEstimate.recordBaseline();
        Device device = RunSupport.device(exec.device);
        Networks nets = new Networks(exec, device);
        java.util.Map<String, Pipeline> pipelines = new java.util.LinkedHashMap<>();
        java.util.Map<String, List<SweepRun>> runsOf = new java.util.LinkedHashMap<>();
        disco.run.MemoryEstimate.Inputs worstIn = null;
        disco.run.MemoryEstimate.Report worst = null;
        String worstRun = null;
        List<String> lines = new ArrayList<>();
        try {
            for (SweepRun r : runs) {
                Settings s = r.settings();
                String key = costKey(s);
                Pipeline p = pipelines.computeIfAbsent(key, k -> (Pipeline) nets.engine(s));
                runsOf.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
                disco.run.MemoryEstimate.Inputs in = disco.run.MemoryEstimate.withPlan(disco.run.MemoryEstimate.inputs(p), r.plan());
                disco.run.MemoryEstimate.Report rep = disco.run.MemoryEstimate.estimate(in, p.clipBatch());
                if (worst == null || rep.peak().total() > worst.peak().total()) {
                    worst = rep;
                    worstIn = in;
                    worstRun = r.name();
                }
            }
            if (worst != null) {
                lines.addAll(disco.run.MemoryEstimate.describe(worstIn, worst, "run " + worstRun,
                        disco.run.MemoryEstimate.availableBytes(device)));
            }
            lines.add(timeLine(tree, pipelines, runsOf, times));
        } finally {
            pipelines.values().forEach(Pipeline::close);
        }
        return lines;
    }

    /** Runs with the same key share networks, size, batch and options: one pipeline and one calibration. */
    private static String costKey(Settings s) {
        return Networks.key(s) + "|" + s.width() + "x" + s.height() + "|" + s.batchSize() + "|" + s.diffusionSamplingMode()
                + "|" + s.fuzzyPrompt();
    }

    private String timeLine(PrefixTree tree, java.util.Map<String, Pipeline> pipelines,
                            java.util.Map<String, List<SweepRun>> runsOf, TimeEstimates times) {
        java.util.Map<SweepRun, disco.sweep.TimeEstimate.Calibration> cal = new java.util.HashMap<>();
        List<String> how = new ArrayList<>();
        for (java.util.Map.Entry<String, List<SweepRun>> e : runsOf.entrySet()) {
            List<String> kinds = new ArrayList<>();
            for (SweepRun r : e.getValue()) {
                for (String k : disco.sweep.TimeEstimate.kinds(r.plan())) if (!kinds.contains(k)) kinds.add(k);
            }
            SweepRun first = e.getValue().get(0);
            Pipeline p = pipelines.get(e.getKey());
            // the calibration's pipeline runs on the same networks and options as the runs'
            disco.sweep.TimeEstimate.Calibration c = times.calibration(first.settings(), p, kinds,
                    cs -> Pipeline.forSettings(cs, p.networks(), p.perf(), p.device(),
                            msg -> System.err.println("disco: warning: " + msg)));
            if (c == null) return "# time: not estimated (no calibration cached; --calibration auto makes one)";
            for (SweepRun r : e.getValue()) {
                List<String> missing = disco.sweep.TimeEstimate.missing(c, r.plan(), r.settings().batchSize(),
                        "plms".equals(r.settings().diffusionSamplingMode()));
                if (!missing.isEmpty()) return times.lacking(c, missing);
                cal.put(r, c);
            }
            if (!how.contains(c.obtained())) how.add(c.obtained());
        }
        if (cal.isEmpty()) return "# time: nothing to run";
        double ms = disco.sweep.TimeEstimate.treeMs(tree, cal::get);
        return TimeEstimates.line(ms, "the " + tree.executedSteps() + " executed steps", how);
    }

    /** The contact sheets and index.html; {@code live}: the sweep is still running (the page reloads itself). */
    private List<Path> writeReport(SweepDef def, List<SweepRun> runs, PrefixTree full, boolean live) {
        try {
            return disco.sweep.SweepReport.write(out, def, runs, full, live);
        } catch (java.io.IOException e) {
            throw new DiscoException(ExitCodes.IO_ERROR, out + ": cannot write the sweep report (" + e.getMessage() + ")", e);
        }
    }

    /** A restarted shard or collect must use the seed the sweep drew first: any state file in --out has it. */
    private Long collectSeed() {
        if (!Files.isDirectory(out)) return null;
        try (var ds = Files.newDirectoryStream(out, "sweep*.json")) {
            for (Path f : ds) {
                Long s = SweepState.open(f).seed();
                if (s != null) return s;
            }
        } catch (java.io.IOException e) {
            return null;
        }
        return null;
    }

    SweepDef definition() {
        SweepDef.Builder b = new SweepDef.Builder();
        if (file != null) b.file(file);
        if (options.file != null) b.settingsFile(options.file);
        SettingsOverrides o = options.overrides();
        b.base(new SettingsOverrides(o.prompts(), o.clipModels(), o.schedules(), o.steps(), o.skipSteps(), o.seed(),
                o.size(), null));
        for (String s : options.set) b.template(s);
        for (String g : grid) b.grid(g);
        for (String w : where) b.where(w);
        if (seeds != null) b.seeds(seeds);
        for (String p : prompts) b.prompt(p);
        if (!axes.isEmpty()) b.contactAxes(axes);
        return b.build();
    }

    static int[] parseShard(String text) {
        disco.sweep.ShardSpec s = disco.sweep.ShardSpec.parse(text, System.getenv());
        return new int[] {s.index(), s.count()};
    }

    /**
     * {@code --collect}: the contact sheets and index from what is there, then the completeness check; an incomplete
     * sweep names its missing or failed runs and their shards on stderr and exits {@link ExitCodes#SWEEP_INCOMPLETE}.
     */
    private int collect(SweepDef def, List<SweepRun> runs, PrefixTree full) {
        Integer hint = null;
        String env = System.getenv(disco.sweep.ShardSpec.SHARDS_ENV);
        if (env != null) {
            try {
                hint = Integer.parseInt(env.strip());
            } catch (NumberFormatException e) {
                throw DiscoException.badInput(disco.sweep.ShardSpec.SHARDS_ENV + ": expected an integer, found '" + env + "'");
            }
        }
        disco.sweep.SweepCollect.Result res = disco.sweep.SweepCollect.check(out, runs, full, hint);
        try {
            for (Path f : disco.sweep.SweepReport.write(out, def, runs, full)) System.out.println(f);
        } catch (java.io.IOException e) {
            throw new DiscoException(ExitCodes.IO_ERROR, out + ": cannot write the sweep report (" + e.getMessage() + ")", e);
        }
        if (res.complete()) {
            System.err.println("disco: sweep: --collect: all " + runs.size() + " runs are complete");
            return ExitCodes.OK;
        }
        for (String line : disco.sweep.SweepCollect.describe(res, runs.size(), System.getenv("DISCO_SWEEP_RESUBMIT"))) {
            System.err.println(line.startsWith("  ") ? line : "disco: " + line);
        }
        return ExitCodes.SWEEP_INCOMPLETE;
    }

    /** {@code --emit slurm|k8s DIR}: the scheduler's jobs for the sweep in --shards N shards; runs nothing. */
    private int emit(SweepDef def) {
        if (shard != null || collect || dryRun) {
            throw DiscoException.badInput("--emit: not with " + (shard != null ? "--shard" : collect ? "--collect" : "--dry-run")
                    + " (the emitted jobs run the shards and the collect)");
        }
        for (SweepRun r : def.runs(null)) {
            if (r.settings().seed() == null) {
                throw DiscoException.badInput("--emit: seed: expected a fixed seed (in the settings, the sweep or --seed) so"
                        + " that every shard runs the same sweep; run " + r.name() + " has none");
            }
        }
        StopAt stop = RunSupport.stopAt(exec);
        List<SweepRun> runs = def.runs(null);
        for (String w : def.warnings()) System.err.println("disco: warning: " + w);
        PrefixTree full = PrefixTree.of(runs, r -> stop == null ? r.stepsRun() : stop.stepsFor(r.stepsRun()));
        return SweepEmit.emit(this, def, runs, full, spec.commandLine().getParseResult().originalArgs(), System.out, System.err);
    }

    static void printDryRun(PrintStream o, SweepDef def, List<SweepRun> runs, PrefixTree full,
                            List<PrefixTree.Trajectory> mine, int[] sh) {
        int total = 1;
        StringBuilder ax = new StringBuilder();
        for (Axis a : def.axes()) {
            total *= a.values().size();
            ax.append(ax.length() == 0 ? "" : ", ").append(a.name()).append(" (").append(a.values().size()).append(")");
        }
        o.printf("# sweep: %d runs%s%s%n", runs.size(), ax.length() == 0 ? "" : " over " + ax,
                total > runs.size() ? "; " + (total - runs.size()) + " combinations excluded by constraints" : "");
        java.util.Set<SweepRun> ran = new java.util.HashSet<>();
        for (PrefixTree.Trajectory t : mine) ran.add(t.run());
        for (SweepRun r : runs) {
            if (!ran.contains(r)) continue;
            StringBuilder models = new StringBuilder();
            for (StepPlan.ModelSummary m : r.plan().summaries()) {
                models.append(models.length() == 0 ? "" : "; ").append(m.model()).append(' ');
                models.append(m.stepsOn() == 0 ? "off" : m.stepsOn() + " steps (" + m.firstStep() + "-" + m.lastStep() + ")");
            }
            o.printf("%-32s %4d steps x %d batch%s  %s%n", r.name(), r.stepsRun(), r.settings().nBatches(),
                    r.settings().nBatches() == 1 ? "" : "es", models);
            String w = r.plan().unguidedWarning();
            if (w != null) o.println("  warning: " + w);
            for (String sw : r.plan().scheduleWarnings()) o.println("  warning: " + sw);
        }
        PrefixTree tree = mine.size() == full.trajectories().size() ? full : PrefixTree.ofTrajectories(mine);
        if (sh[1] > 1) {
            o.printf("# shard %d/%d: %d of %d runs, %d of %d prefix groups%n", sh[0], sh[1], ran.size(), runs.size(),
                    PrefixTree.ofTrajectories(mine).groups().size(), full.groups().size());
        }
        long exec = tree.executedSteps(), indep = tree.independentSteps();
        o.printf(Locale.ROOT, "# steps: %d executed as a tree vs %d independent (ratio %.3f; %d forks, %d prefix groups)%n",
                exec, indep, indep == 0 ? 0.0 : (double) exec / indep, tree.forks(), tree.groups().size());
        o.printf("# CLIP images encoded: %s as a tree (%s independent)%n",
                disco.sweep.SweepCost.format(disco.sweep.SweepCost.clipImages(tree)),
                disco.sweep.SweepCost.format(disco.sweep.SweepCost.clipImagesIndependent(tree)));
        for (List<SweepRun> g : disco.sweep.Duplicates.groups(runs)) {
            if (!ran.contains(g.get(0))) continue;
            o.println("# same run: " + String.join(" = ", g.stream().map(SweepRun::name).toList())
                    + " (identical executed plans: computed once)");
        }
    }
}
