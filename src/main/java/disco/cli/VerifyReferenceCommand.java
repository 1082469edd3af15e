package disco.cli;

import disco.util.ExitCodes;
import disco.reference.CheckResult;
import disco.reference.ReferenceCheck;
import disco.reference.ReferenceChecks;
import disco.reference.ReferenceContext;
import disco.util.DiscoException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "verify-reference", mixinStandardHelpOptions = true,
        description = "Run every supported reference check against a directory laid out like fixtures/dd-reference-A;"
                + " prints '<check> <max_rel_err> <tol> PASS|FAIL' per check.")
public final class VerifyReferenceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "reference directory (e.g. ../shared/fixtures/dd-reference-A)")
    Path dir;

    @Option(names = "--vocab", paramLabel = "FILE",
            description = "CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz); default: DIR or DIR/../clip-vocab")
    Path vocab;

    @Override
    public Integer call() {
        if (!Files.isDirectory(dir)) throw DiscoException.badInput(dir + ": not a directory");
        if (!Files.isRegularFile(dir.resolve("settings.json"))) {
            throw DiscoException.badInput(dir + ": no settings.json (expected a dd-reference directory)");
        }
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        ReferenceContext ctx = new ReferenceContext(dir, vocab);
        List<CheckResult> results = new ArrayList<>();
        for (ReferenceCheck check : ReferenceChecks.all()) {
            List<CheckResult> rs;
            try {
                rs = check.run(ctx);
            } catch (RuntimeException e) {
                rs = List.of(CheckResult.error(check.getClass().getSimpleName(), String.valueOf(e.getMessage())));
            }
            for (CheckResult r : rs) {
                out.println(r.line());
                out.flush();
                results.add(r);
            }
        }
        long failed = results.stream().filter(r -> !r.pass()).count();
        err.printf("%d checks, %d passed, %d failed%n", results.size(), results.size() - failed, failed);
        err.flush();
        if (results.isEmpty()) return ExitCodes.CHECK_FAILED;
        return failed == 0 ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    }
}
