package disco.reference;

import disco.kernels.Cut;
import disco.kernels.CutDraws;
import disco.kernels.CutoutDrawer;
import disco.kernels.Cutouts;
import disco.kernels.Kernels;
import disco.torch.Tensors;
import com.fasterxml.jackson.databind.JsonNode;
import disco.util.Compare;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code cutouts/<name>/overview<k>}, {@code cutouts/<name>/inner} and {@code aug/<name>}: the native cutout
 * kernels against DD's MakeCutoutsDango and torchvision ops. Names, cut sizes and parameters come from the
 * directory ({@code cutouts-<name>-overview<k>.npy}, {@code cutouts-<name>-inner.npy/.json}, {@code aug.json}).
 */
public final class CutoutsReferenceCheck implements ReferenceCheck {
    static final double TOL = 1e-4;
    static final double TOL_HUE = 1e-3;
    private static final Pattern OVERVIEW = Pattern.compile("cutouts-(.+)-overview(\\d+)\\.npy");
    private static final Pattern INNER = Pattern.compile("cutouts-(.+)-inner\\.npy");

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        Kernels.init();
        Map<String, String> overview = new TreeMap<>(), inner = new TreeMap<>();
        try (Stream<Path> files = Files.list(ctx.dir())) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String f = p.getFileName().toString();
                Matcher m = OVERVIEW.matcher(f);
                if (m.matches()) overview.put(m.group(1) + "/overview" + m.group(2), f);
                m = INNER.matcher(f);
                if (m.matches()) inner.put(m.group(1) + "/inner", f);
            }
        } catch (IOException e) {
            out.add(CheckResult.error("cutouts", ctx.dir() + ": cannot list (" + e.getMessage() + ")"));
            return out;
        }
        if (!overview.isEmpty() || !inner.isEmpty()) {
            Npy.Array input = ctx.npy("cut_input.npy");
            for (var e : overview.entrySet()) out.add(overviewCheck(ctx, input, "cutouts/" + e.getKey(), e.getValue()));
            for (var e : inner.entrySet()) out.add(innerCheck(ctx, input, "cutouts/" + e.getKey(), e.getValue()));
        }
        if (ctx.has("aug.json")) out.addAll(augChecks(ctx));
        return out;
    }

    private static CheckResult overviewCheck(ReferenceContext ctx, Npy.Array input, String name, String file) {
        try (PointerScope scope = new PointerScope()) {
            Npy.Array ref = ctx.npy(file);
            int[] rs = ref.intShape(), is = input.intShape();
            int k = Integer.parseInt(name.substring(name.lastIndexOf("overview") + "overview".length()));
            int size = rs[3];
            List<Cut> cuts = CutoutDrawer.overview(0, is[2], is[3], k);
            return compare(name, run(input, cuts, size), ref, TOL);
        } catch (RuntimeException e) {
            return CheckResult.error(name, String.valueOf(e.getMessage()));
        }
    }

    private static CheckResult innerCheck(ReferenceContext ctx, Npy.Array input, String name, String file) {
        try (PointerScope scope = new PointerScope()) {
            Npy.Array ref = ctx.npy(file);
            JsonNode j = ctx.json(file.replaceAll("\\.npy$", ".json"));
            int[] rs = ref.intShape(), is = input.intShape();
            int size = rs[3];
            double[] rand = doubles(j, "rand");
            double[] offs = doubles(j, "offsets_x_then_y");
            int[] ints = new int[offs.length];
            for (int i = 0; i < offs.length; i++) ints[i] = (int) offs[i];
            int count = need(j, "InnerCrop").asInt();
            List<Cut> cuts = CutoutDrawer.innerCrops(0, is[2], is[3], size, count, need(j, "IC_Size_Pow").asDouble(),
                    need(j, "IC_Grey_P").asDouble(), CutDraws.scripted(rand, ints));
            return compare(name, run(input, cuts, size), ref, TOL);
        } catch (RuntimeException e) {
            return CheckResult.error(name, String.valueOf(e.getMessage()));
        }
    }

    private static List<CheckResult> augChecks(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        JsonNode aug = ctx.json("aug.json");
        Npy.Array input = ctx.npy("aug_input.npy");
        int[] is = input.intShape();
        for (Iterator<Map.Entry<String, JsonNode>> it = aug.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = "aug/" + e.getKey();
            try (PointerScope scope = new PointerScope()) {
                if (is.length != 4 || is[1] != 3 || is[2] != is[3]) {
                    throw new IllegalArgumentException("aug_input.npy: expected [N,3,S,S], got " + java.util.Arrays.toString(is));
                }
                AugOp op = augOp(e.getKey(), e.getValue());
                List<Cut> cuts = new ArrayList<>();
                for (int i = 0; i < is[0]; i++) cuts.add(op.apply(Cut.box(i, 0, 0, is[2], is[3])));
                out.add(compare(name, run(input, cuts, is[3]), ctx.npy("aug-" + e.getKey() + ".npy"),
                        op.hue() ? TOL_HUE : TOL));
            } catch (RuntimeException ex) {
                out.add(CheckResult.error(name, String.valueOf(ex.getMessage())));
            }
        }
        return out;
    }

    /** One aug.json entry as a cut transformation. */
    record AugOp(java.util.function.UnaryOperator<Cut> f, boolean hue) {
        Cut apply(Cut c) {
            return f.apply(c);
        }
    }

    static AugOp augOp(String key, JsonNode p) {
        if (p.has("order")) {
            List<Integer> order = new ArrayList<>();
            for (JsonNode o : p.get("order")) order.add(o.asInt());
            Cut.Jitter j = new Cut.Jitter(order, need(p, "brightness").asDouble(), need(p, "contrast").asDouble(),
                    need(p, "saturation").asDouble(), need(p, "hue").asDouble());
            return new AugOp(c -> c.withJitter(j), order.contains(3));
        }
        if (p.has("angle")) {
            JsonNode t = need(p, "translate");
            Cut.Affine a = new Cut.Affine(p.get("angle").asDouble(), t.get(0).asDouble(), t.get(1).asDouble(), true);
            return new AugOp(c -> c.withAffine(a), false);
        }
        String k = key.toLowerCase();
        if (k.startsWith("hflip")) return new AugOp(c -> c.withHflip(true), false);
        if (k.startsWith("gray") || k.startsWith("grey")) return new AugOp(c -> c.withGrayAug(true), false);
        String[] ops = {"brightness", "contrast", "saturation", "hue"};
        for (int i = 0; i < ops.length; i++) {
            if (k.startsWith(ops[i])) {
                Cut.Jitter j = Cut.Jitter.single(i, need(p, "factor").asDouble());
                return new AugOp(c -> c.withJitter(j), i == 3);
            }
        }
        throw new IllegalArgumentException("aug.json: " + key + ": unknown augmentation");
    }

    private static float[] run(Npy.Array input, List<Cut> cuts, int size) {
        int[] s = input.intShape();
        Tensor x = Tensors.fromFloats(input.floats(), s[0], s[1], s[2], s[3]);
        return Tensors.toFloats(Cutouts.forward(x, cuts, size, null));
    }

    private static CheckResult compare(String name, float[] ours, Npy.Array ref, double tol) {
        float[] r = ref.floats();
        if (r.length != ours.length) {
            return CheckResult.error(name, "shape: ours " + ours.length + " values, reference " + java.util.Arrays.toString(ref.intShape()));
        }
        return CheckResult.numeric(name, Compare.maxRelErr(ours, r), tol);
    }

    private static JsonNode need(JsonNode j, String key) {
        JsonNode v = j.get(key);
        if (v == null) throw new IllegalArgumentException("missing key " + key);
        return v;
    }

    private static double[] doubles(JsonNode j, String key) {
        JsonNode a = need(j, key);
        double[] d = new double[a.size()];
        for (int i = 0; i < d.length; i++) d[i] = a.get(i).asDouble();
        return d;
    }
}
