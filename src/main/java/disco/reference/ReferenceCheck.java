package disco.reference;

import java.util.List;

/** A group of reference checks (e.g. the schedule checks); each result is one line of verify-reference. */
public interface ReferenceCheck {
    List<CheckResult> run(ReferenceContext ctx);
}
