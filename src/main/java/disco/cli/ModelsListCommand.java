package disco.cli;

import disco.models.registry.ModelEntry;
import disco.models.registry.ModelStore;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code disco models list}: every registry model with its state. Reads no model bytes: "verified" comes from the
 * sidecar of hashes computed by {@code fetch} / {@code verify} for the file's current size and mtime, so listing
 * stays instant with tens of GB of weights; a file changed since then shows as "unchecked".
 */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = {"List the registry's models and whether each is present and verified (reads no model bytes).",
                "States: verified | unchecked (present, not hashed since it changed: run `disco models verify`) | "
                        + "MISMATCH | unverifiable (no published sha256) | absent."})
public final class ModelsListCommand implements Runnable {
    @CommandLine.ParentCommand
    ModelsCommand parent;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        ModelStore store = parent.store();
        parent.announce(store);
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NAME", "KIND", "STATE", "SIZE", "FILE"});
        for (ModelEntry e : store.registry().entries()) {
            ModelStore.Status s = store.status(e);
            rows.add(new String[] {e.name(), e.kind(), word(s.state()), s.size() < 0 ? "-" : size(s.size()), s.file().toString()});
        }
        print(spec.commandLine().getOut(), rows);
    }

    static String word(ModelStore.State s) {
        return switch (s) {
            case VERIFIED -> "verified";
            case UNCHECKED -> "unchecked";
            case MISMATCH -> "MISMATCH";
            case UNVERIFIABLE -> "unverifiable";
            case ABSENT -> "absent";
        };
    }

    static String size(long bytes) {
        if (bytes < 1 << 20) return String.format(Locale.ROOT, "%.1fK", bytes / 1024.0);
        if (bytes < 1L << 30) return String.format(Locale.ROOT, "%.1fM", bytes / 1048576.0);
        return String.format(Locale.ROOT, "%.2fG", bytes / 1073741824.0);
    }

    static void print(PrintWriter out, List<String[]> rows) {
        int cols = rows.get(0).length;
        int[] w = new int[cols];
        for (String[] r : rows) for (int i = 0; i < cols; i++) w[i] = Math.max(w[i], r[i].length());
        for (String[] r : rows) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < cols; i++) {
                if (i > 0) sb.append("  ");
                sb.append(i == cols - 1 ? r[i] : String.format("%-" + w[i] + "s", r[i]));
            }
            out.println(sb);
        }
        out.flush();
    }
}
