package disco.cli;

import disco.models.registry.ModelDir;
import disco.models.registry.ModelStore;
import disco.models.registry.Registry;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.nio.file.Path;

/** {@code disco models list | fetch | verify}: the official model files in the model directory. */
@Command(name = "models",
        mixinStandardHelpOptions = true,
        description = {"The official model files (diffusion models, secondary model, CLIP, BPE vocabulary): "
                + "list what is present, download (resumable, sha256-verified, with fallback URLs), verify.",
                "Model directory: --model-dir, else $DISCO_MODELS, else ~/.cache/disco/models."},
        subcommands = {ModelsListCommand.class, ModelsFetchCommand.class, ModelsVerifyCommand.class})
public final class ModelsCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model-dir", scope = ScopeType.INHERIT, paramLabel = "DIR",
            description = "Model directory (default: $DISCO_MODELS, else ~/.cache/disco/models).")
    Path modelDir;

    @Option(names = "--registry", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "A registry JSON file to use instead of the built-in models/registry.json.")
    Path registry;

    /** {@code disco models} alone: the usage and the usage-error code. */
    @Override
    public Integer call() {
        return Main.usageError(spec);
    }

    /** The registry and model directory (nothing printed: a bad registry or name stays a one-line error). */
    ModelStore store() {
        return new ModelStore(Registry.loadOrBuiltin(registry), ModelDir.resolve(modelDir));
    }

    /** Says which model directory the command works on (once its arguments are known to be good). */
    void announce(ModelStore store) {
        spec.commandLine().getErr().println("model directory: " + store.dir());
        spec.commandLine().getErr().flush();
    }
}
