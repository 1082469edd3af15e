package disco.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code disco bench <what>}: benchmarks (results on stdout). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: `kernels` (native kernels vs LibTorch ops the way DD does it), `step` (guided steps, stage by stage, against DD's way of running them).",
        subcommands = {
                BenchKernelsCommand.class,
                BenchPassesCommand.class,
                BenchStepCommand.class,
        })
public final class BenchCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** {@code disco bench} alone: which benchmark is missing; the usage and the usage-error code. */
    @Override
    public Integer call() {
        return Main.usageError(spec);
    }
}
