package disco.cli;

import disco.util.ExitCodes;
import disco.models.registry.Downloader;
import disco.models.registry.ModelEntry;
import disco.models.registry.ModelStore;
import disco.models.registry.TextProgress;
import disco.util.DiscoException;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** {@code disco models fetch NAME…}: download (resume, sha256-verify, fall back to the next URL) into the model directory. */
@Command(name = "fetch", mixinStandardHelpOptions = true,
        description = {"Download models into the model directory: resumes a partial .part file (HTTP Range), checks the "
                + "sha256, lands the file by atomic rename, and falls back to the next URL on an error, 404 or wrong hash. "
                + "A present file that matches is kept.",
                "Prints one line per model on stdout: NAME STATE PATH."})
public final class ModelsFetchCommand implements Runnable {
    @CommandLine.ParentCommand
    ModelsCommand parent;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    static final class Which {
        @Parameters(paramLabel = "NAME", arity = "1..*", description = "Model names as `disco models list` shows them (e.g. ViT-B/32, 512x512_diffusion_uncond_finetune_008100).")
        List<String> names;

        @Option(names = "--defaults", description = "The models DD's default settings use.")
        boolean defaults;

        @Option(names = "--all", description = "Every model of the registry.")
        boolean all;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Which which;

    @Override
    public void run() {
        ModelStore store = parent.store();
        Set<ModelEntry> todo = new LinkedHashSet<>();
        if (which.all) {
            for (ModelEntry e : store.registry().entries()) if (!e.isCustom()) todo.add(e);
        } else if (which.defaults) {
            todo.addAll(store.registry().defaults());
        } else {
            for (String n : which.names) todo.add(store.registry().require(n));
        }
        parent.announce(store);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        TextProgress progress = new TextProgress(err, System.console() != null);
        Downloader downloader = new Downloader(Downloader.defaultClient(), progress, err::println);
        List<String> failed = new ArrayList<>();
        for (ModelEntry e : todo) {
            try {
                ModelStore.Fetched f = store.fetch(e, downloader, err::println);
                String how = f.downloaded() ? "downloaded from " + f.url() : "already present";
                err.println(e.name() + ": " + how + " (" + ModelsListCommand.word(f.state()) + ")");
                out.println(e.name() + "\t" + ModelsListCommand.word(f.state()) + "\t" + f.file());
                out.flush();
            } catch (DiscoException ex) {
                if (ex.exitCode() != ExitCodes.IO_ERROR || todo.size() == 1) throw ex;
                err.println("disco: " + ex.getMessage());
                failed.add(e.name());
            }
        }
        if (!failed.isEmpty()) {
            throw new DiscoException(ExitCodes.IO_ERROR, "could not fetch " + String.join(", ", failed) + " (reasons above)");
        }
    }
}
