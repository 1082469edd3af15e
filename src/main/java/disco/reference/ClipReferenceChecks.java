package disco.reference;

import disco.models.clip.ClipModel;
import disco.torch.Tensors;
import com.fasterxml.jackson.databind.JsonNode;
import disco.models.tokenizer.SimpleTokenizer;
import disco.util.Compare;
import disco.settings.Prompt;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * verify-reference's CLIP group: {@code tokens} (every text of {@code tokens.json} to its 77 ids, exactly) and
 * {@code text_embeds/<name>} for every {@code clip-<name>.pt} of the directory (settings.json's prompts, their
 * {@code :weight} suffix removed as DD's {@code parse_prompt} does, through {@code encode_text}).
 */
public final class ClipReferenceChecks implements ReferenceCheck {
    public static final double TEXT_EMBEDS_TOL = 1e-4;

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        SimpleTokenizer tokenizer = null;
        String vocabError = null;
        try {
            Path vocab = ctx.vocab().orElse(null);
            if (vocab == null) vocabError = "no BPE vocabulary (" + SimpleTokenizer.VOCAB_FILE + "): pass --vocab";
            else tokenizer = SimpleTokenizer.load(vocab);
        } catch (RuntimeException e) {
            vocabError = e.getMessage();
        }
        out.add(tokens(ctx, tokenizer, vocabError));
        for (String name : clipNames(ctx.dir())) out.add(textEmbeds(ctx, name, tokenizer, vocabError));
        return out;
    }

    /** The {@code <name>} of every {@code clip-<name>.pt} in {@code dir}, sorted. */
    public static List<String> clipNames(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(f -> f.startsWith("clip-") && f.endsWith(".pt"))
                    .map(f -> f.substring(5, f.length() - 3)).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    static CheckResult tokens(ReferenceContext ctx, SimpleTokenizer tok, String vocabError) {
        String name = "tokens";
        if (!ctx.has("tokens.json")) return CheckResult.error(name, "tokens.json missing");
        if (tok == null) return CheckResult.error(name, vocabError);
        try {
            JsonNode json = ctx.json("tokens.json");
            int n = 0;
            for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); n++) {
                Map.Entry<String, JsonNode> e = it.next();
                // the reference ids are those of the whole key (a ":weight" suffix is tokenized with the text)
                int[] ours = tok.tokenize(e.getKey());
                JsonNode ref = e.getValue();
                int[] want = new int[ref.size()];
                for (int i = 0; i < want.length; i++) want[i] = ref.get(i).asInt();
                if (!Arrays.equals(ours, want)) {
                    int at = Arrays.mismatch(ours, want);
                    return CheckResult.exact(name, false, "'" + e.getKey() + "' differs at index " + at + ": ours "
                            + (at < ours.length ? ours[at] : "-") + ", reference " + (at < want.length ? want[at] : "-"));
                }
            }
            return CheckResult.exact(name, n > 0, n > 0 ? "" : "tokens.json is empty");
        } catch (RuntimeException e) {
            return CheckResult.error(name, e.getMessage());
        }
    }

    static CheckResult textEmbeds(ReferenceContext ctx, String model, SimpleTokenizer tok, String vocabError) {
        String name = "text_embeds/" + model;
        String refFile = "text_embeds-" + model + ".npy";
        if (!ctx.has(refFile)) return CheckResult.error(name, refFile + " missing");
        if (tok == null) return CheckResult.error(name, vocabError);
        try (PointerScope scope = new PointerScope()) {
            List<String> texts = new ArrayList<>();
            for (JsonNode p : ctx.settings().path("prompts")) texts.add(Prompt.parse(p.asText()).text());
            Npy.Array ref = ctx.npy(refFile);
            ClipModel clip = ClipModel.load(ctx.file("clip-" + model + ".pt"));
            try {
                Tensor emb = clip.encodeText(tok, texts);
                long[] shape = Tensors.shape(emb);
                if (!Arrays.equals(shape, ref.shape())) {
                    return CheckResult.error(name, "shape " + Arrays.toString(shape) + " vs reference "
                            + Arrays.toString(ref.shape()));
                }
                return CheckResult.numeric(name, Compare.maxRelErr(Tensors.toFloats(emb), ref.floats()),
                        TEXT_EMBEDS_TOL);
            } finally {
                clip.close();
            }
        } catch (RuntimeException e) {
            return CheckResult.error(name, e.getMessage());
        }
    }
}
