package disco.cli;

import disco.util.ExitCodes;
import disco.models.registry.ModelEntry;
import disco.models.registry.ModelStore;
import disco.util.DiscoException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** {@code disco models verify [NAME…]}: re-hash files and compare with the published sha256. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Hash model files now and compare with the published sha256 (all present files, or the named ones).",
                "Prints NAME RESULT SHA256 PATH per model; RESULT is OK, MISMATCH, UNVERIFIED (no published sha256) or ABSENT. "
                        + "Exit status 1 when a file mismatches or a named model is absent."})
public final class ModelsVerifyCommand implements Runnable {
    @CommandLine.ParentCommand
    ModelsCommand parent;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "NAME", arity = "0..*", description = "Models to verify (default: every model present).")
    List<String> names;

    @Override
    public void run() {
        ModelStore store = parent.store();
        List<ModelEntry> todo = new ArrayList<>();
        boolean named = names != null && !names.isEmpty();
        if (named) {
            for (String n : names) todo.add(store.registry().require(n));
        } else {
            for (ModelEntry e : store.registry().entries()) {
                if (store.status(e).state() != ModelStore.State.ABSENT) todo.add(e);
            }
            if (todo.isEmpty()) spec.commandLine().getErr().println("no registry model is present in " + store.dir());
        }
        parent.announce(store);
        PrintWriter out = spec.commandLine().getOut();
        int bad = 0;
        for (ModelEntry e : todo) {
            ModelStore.Verification v = store.verify(e);
            String result = switch (v.state()) {
                case VERIFIED -> "OK";
                case MISMATCH -> "MISMATCH";
                case UNVERIFIABLE -> "UNVERIFIED";
                default -> "ABSENT";
            };
            if (v.state() == ModelStore.State.MISMATCH || v.state() == ModelStore.State.ABSENT) bad++;
            out.println(e.name() + "\t" + result + "\t" + (v.sha256() == null ? "-" : v.sha256()) + "\t" + v.file());
            out.flush();
            if (v.state() == ModelStore.State.MISMATCH) {
                spec.commandLine().getErr().println(e.name() + ": expected sha256 " + e.expectedHash() + "; `disco models fetch "
                        + e.name() + "` downloads it again");
            }
        }
        if (bad > 0) {
            throw new DiscoException(ExitCodes.CHECK_FAILED, bad + " model file(s) missing or not matching their sha256");
        }
    }
}
