package disco.run;

import disco.plan.PlanStep;
import disco.plan.StepPlan;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Schedule-aware residency of the CLIP models ({@code --offload-inactive}): a model lives on the compute device only
 * while its schedule is on, plus the step before it switches on (so the copy back is not on the step's critical
 * path); at other steps it is moved to host memory. Without offloading every model stays resident.
 *
 * <p>On the CPU the compute device is host memory: the moves are no-ops and only the bookkeeping (which models count
 * as resident at each step, and their bytes) is real. On CUDA the moves are {@code Module.to(device)}, which replaces
 * each parameter's data in place, so every reference to the model stays valid.
 */
public final class Residency {
    /** Which models are resident at one step, their bytes, and the moves made before it. */
    public record StepResidency(int step, List<String> resident, long residentBytes, List<String> movedIn,
                                List<String> movedOut) {}

    private final StepPlan plan;
    private final Map<String, Module> models;
    private final Map<String, Long> bytes = new LinkedHashMap<>();
    private final Device device;
    private final Device host = new Device(torch.DeviceType.CPU);
    private final boolean offload;
    private final Set<String> onDevice = new LinkedHashSet<>();

    /** @param models the CLIP models by plan key, all on {@code device} when this is built */
    public Residency(StepPlan plan, Map<String, ? extends Module> models, Device device, boolean offload) {
        this.plan = plan;
        this.models = new LinkedHashMap<>(models);
        this.device = device;
        this.offload = offload;
        for (Map.Entry<String, ? extends Module> e : models.entrySet()) {
            bytes.put(e.getKey(), bytesOf(e.getValue()));
            onDevice.add(e.getKey());
        }
    }

    /** Parameter and buffer bytes of a module. */
    public static long bytesOf(Module m) {
        long b = 0;
        TensorVector ps = m.parameters(true);
        for (long i = 0; i < ps.size(); i++) b += tensorBytes(ps.get(i));
        TensorVector bs = m.buffers(true);
        for (long i = 0; i < bs.size(); i++) b += tensorBytes(bs.get(i));
        return b;
    }

    private static long tensorBytes(Tensor t) {
        return t.numel() * t.element_size();
    }

    /**
     * The models that must be resident at executed step {@code j}: those active at {@code j} and at {@code j + 1}
     * when offloading; all of them otherwise.
     */
    public static List<String> residentAt(StepPlan plan, List<String> models, int j, boolean offload) {
        if (!offload) return List.copyOf(models);
        Set<String> need = new LinkedHashSet<>(plan.step(j).active());
        if (j + 1 < plan.size()) need.addAll(plan.step(j + 1).active());
        List<String> out = new ArrayList<>();
        for (String m : models) if (need.contains(m)) out.add(m);
        return out;
    }

    /** Brings the models needed at step {@code j} to the device and sends the others to host memory. */
    public StepResidency before(int j) {
        List<String> keys = new ArrayList<>(models.keySet());
        List<String> want = residentAt(plan, keys, j, offload);
        List<String> in = new ArrayList<>(), out = new ArrayList<>();
        for (String k : keys) {
            boolean should = want.contains(k);
            boolean is = onDevice.contains(k);
            if (should && !is) {
                move(models.get(k), device);
                onDevice.add(k);
                in.add(k);
            } else if (!should && is) {
                move(models.get(k), host);
                onDevice.remove(k);
                out.add(k);
            }
        }
        long total = 0;
        for (String k : want) total += bytes.get(k);
        return new StepResidency(plan.step(j).step(), want, total, in, out);
    }

    private static void move(Module m, Device to) {
        if (to.is_cpu() && !anyOffHost(m)) return; // host to host: nothing to copy
        m.to(to, false);
    }

    private static boolean anyOffHost(Module m) {
        TensorVector ps = m.parameters(true);
        for (long i = 0; i < ps.size(); i++) if (!ps.get(i).is_cpu()) return true;
        return false;
    }

    /** The plan step entries (for reports). */
    public List<PlanStep> steps() {
        return plan.steps();
    }
}
