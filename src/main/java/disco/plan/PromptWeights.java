package disco.plan;

import disco.settings.PromptsV1;

import java.util.ArrayList;
import java.util.List;

/**
 * The prompts that guide one CLIP model at one step under DiscoArt's version-1 prompts, and their weights as
 * DiscoArt's {@code runner.py} uses them: {@code F.normalize(torch.tensor(w, dtype=torch.float16), dim=0)} on the
 * GPU — each weight rounded to float16, the L2 norm accumulated in float32 and rounded to float16, then each
 * {@code float16(float32(w16) / float32(norm16))}. The loss multiplies float32 distances by these (promoted to
 * float32), so {@link #weights()} holds the float16 values as floats. Not DD's division by {@code |sum|}; negative
 * weights keep their sign.
 *
 * @param ids     the active prompts' positions in the prompt list, in order
 * @param raw     their weights at the step as written
 * @param weights the normalised weights (float16 values)
 */
public record PromptWeights(List<Integer> ids, List<Double> raw, List<Float> weights) {
    /** {@code F.normalize}'s eps. */
    static final float EPS = 1e-12f;

    public PromptWeights {
        ids = List.copyOf(ids);
        raw = List.copyOf(raw);
        weights = List.copyOf(weights);
    }

    /** The prompts of {@code prompts} guiding {@code model} at schedule index {@code schedIndex}, normalised. */
    public static PromptWeights at(PromptsV1 prompts, String model, int schedIndex) {
        PromptsV1.Selection sel = prompts.select(model, schedIndex);
        double[] raw = sel.weights().stream().mapToDouble(Double::doubleValue).toArray();
        List<Float> w = new ArrayList<>();
        for (float f : normalizeFp16(raw)) w.add(f);
        return new PromptWeights(sel.ids(), sel.weights(), w);
    }

    public boolean isEmpty() {
        return ids.isEmpty();
    }

    /** The weights as a float array. */
    public float[] weightArray() {
        float[] out = new float[weights.size()];
        for (int i = 0; i < out.length; i++) out[i] = weights.get(i);
        return out;
    }

    /** The ids as a long array. */
    public long[] idArray() {
        long[] out = new long[ids.size()];
        for (int i = 0; i < out.length; i++) out[i] = ids.get(i);
        return out;
    }

    /** {@code F.normalize(torch.tensor(raw, dtype=float16), dim=0)} on the GPU, as float values. */
    public static float[] normalizeFp16(double[] raw) {
        float[] w16 = new float[raw.length];
        float acc = 0;
        for (int i = 0; i < raw.length; i++) {
            // torch.tensor(list, dtype=float16) stores c10::Half(float(x)): double → float → half
            w16[i] = Half.round((float) raw[i]);
            acc += w16[i] * w16[i];
        }
        float norm = Half.round(Math.max((float) Math.sqrt(acc), EPS));
        float[] out = new float[raw.length];
        for (int i = 0; i < raw.length; i++) out[i] = Half.round(w16[i] / norm);
        return out;
    }

    /** The same normalisation in float32. */
    public static float[] normalizeF32(double[] raw) {
        float acc = 0;
        for (double r : raw) acc += (float) r * (float) r;
        float norm = Math.max((float) Math.sqrt(acc), EPS);
        float[] out = new float[raw.length];
        for (int i = 0; i < raw.length; i++) out[i] = (float) raw[i] / norm;
        return out;
    }

    /** IEEE 754 binary16 rounding (round to nearest, ties to even), as c10::Half converts a float. */
    public static final class Half {
        private Half() {}

        /** {@code f} rounded to the nearest float16 value, returned as a float. */
        public static float round(float f) {
            return toFloat(fromFloat(f));
        }

        /** The float16 bits of {@code f}. */
        public static short fromFloat(float f) {
            int bits = Float.floatToRawIntBits(f);
            int sign = (bits >>> 16) & 0x8000;
            int val = bits & 0x7fffffff;
            if (val >= 0x7f800000) return (short) (sign | 0x7c00 | (val > 0x7f800000 ? 0x200 : 0));
            if (val >= 0x477ff000) return (short) (sign | 0x7c00); // >= 65520 rounds to infinity
            if (val < 0x38800000) { // below 2^-14: a subnormal half, in units of 2^-24 (exact scaling, rint is ties-even)
                int h = (int) Math.rint(Float.intBitsToFloat(val) * 0x1p24);
                return (short) (sign | h);
            }
            int h = ((((val >>> 23) - 127 + 15)) << 10) | ((val & 0x7fffff) >>> 13);
            int rest = val & 0x1fff;
            if (rest > 0x1000 || rest == 0x1000 && (h & 1) == 1) h++;
            return (short) (sign | h);
        }

        /** The float value of float16 bits. */
        public static float toFloat(short h16) {
            int h = h16 & 0xffff;
            int sign = h & 0x8000;
            int exp = (h >>> 10) & 0x1f;
            int mant = h & 0x3ff;
            float v;
            if (exp == 0) v = mant * 0x1p-24f;
            else if (exp == 31) v = mant == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
            else v = Float.intBitsToFloat(((exp - 15 + 127) << 23) | (mant << 13));
            return sign != 0 ? -v : v;
        }
    }
}
