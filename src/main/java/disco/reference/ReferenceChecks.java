package disco.reference;

import java.util.List;

/** Every reference check group the engine supports, in the order verify-reference prints them. */
public final class ReferenceChecks {
    private ReferenceChecks() {}

    public static List<ReferenceCheck> all() {
        return List.of(
                new ScheduleChecks(),
                new PromptReferenceChecks(),
                new ClipReferenceChecks(),
                new ModelReferenceChecks(),
                new CutoutsReferenceCheck(),
                new LossReferenceCheck(),
                new LpipsReferenceCheck(),
                new SamplerReferenceChecks(),
                new ImagePromptChecks(),
                new OpenClipReferenceChecks()
        );
    }
}
