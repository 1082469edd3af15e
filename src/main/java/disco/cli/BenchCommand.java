package disco.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code disco bench <what>}: benchmarks (results on stdout). */
@Command(name = "bench",
        description = "Benchmarks: `kernels` (native kernels vs LibTorch ops the way DD does it), `step` (guided steps, stage by stage, against DD's way of running them).",
        subcommands = {
                BenchKernelsCommand.class,
                BenchPassesCommand.class,
                BenchStepCommand.class,
        })
public final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }
}
