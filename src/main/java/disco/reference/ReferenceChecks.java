package disco.reference;

import java.util.List;

/** Every reference check group the engine supports, in the order verify-reference prints them. */
public final class ReferenceChecks {
    private ReferenceChecks() {}

    public static List<ReferenceCheck> all() {
        return List.of(
                new disco.plan.ScheduleChecks(),
                new disco.models.clip.ClipReferenceChecks(),
                new disco.models.ModelReferenceChecks(),
                new disco.kernels.CutoutsReferenceCheck(),
                new disco.kernels.LossReferenceCheck(),
                new SamplerReferenceChecks()
        );
    }
}
