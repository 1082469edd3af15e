package disco.settings;

import java.util.Arrays;

/**
 * A parsed 1000-entry schedule (DiscoArt's {@code clip_models_schedules} and its 13 schedulable scalars), indexed by
 * the schedule index {@code 1000 - (int(t) + 1)}. Entries keep the Python type they were written with (bool, int,
 * float) so a plan can print them as written; numeric access converts as Python would ({@code True} is 1).
 */
public final class Schedule {
    /** DiscoArt's {@code _MAX_DIFFUSION_STEPS}: every schedule has exactly this many entries. */
    public static final int LENGTH = 1000;

    /** The Python type of a schedule entry. */
    public enum Kind { BOOL, INT, FLOAT }

    private final String source;
    private final double[] values;
    private final Kind[] kinds;

    Schedule(String source, double[] values, Kind[] kinds) {
        if (values.length != LENGTH || kinds.length != LENGTH) {
            throw new IllegalArgumentException("a schedule has " + LENGTH + " entries, not " + values.length);
        }
        this.source = source;
        this.values = values;
        this.kinds = kinds;
    }

    /** The text this schedule was parsed from. */
    public String source() {
        return source;
    }

    public double number(int schedIndex) {
        return values[schedIndex];
    }

    public Kind kind(int schedIndex) {
        return kinds[schedIndex];
    }

    /** Python truthiness: non-zero is true. */
    public boolean bool(int schedIndex) {
        return values[schedIndex] != 0.0;
    }

    /** The entry as an int; callers validate with {@link #requireIntegers()} first. */
    public int integer(int schedIndex) {
        return (int) values[schedIndex];
    }

    /** Null when every entry is a whole number (bools count as 0/1); else a message naming the first bad entry. */
    public String requireIntegers() {
        for (int i = 0; i < LENGTH; i++) {
            if (kinds[i] == Kind.FLOAT) {
                return "expected whole numbers, entry " + i + " is " + ScheduleExpr.literal(values[i], kinds[i]);
            }
        }
        return null;
    }

    /** Null when no entry is below {@code min}; else a message naming the first bad entry. */
    public String requireAtLeast(double min) {
        for (int i = 0; i < LENGTH; i++) {
            if (!(values[i] >= min)) {
                return "expected values >= " + ScheduleExpr.literal(min, Kind.FLOAT) + ", entry " + i + " is "
                        + ScheduleExpr.literal(values[i], kinds[i]);
            }
        }
        return null;
    }

    public double[] toArray() {
        return values.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Schedule s && Arrays.equals(values, s.values) && Arrays.equals(kinds, s.kinds);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values) * 31 + Arrays.hashCode(kinds);
    }

    @Override
    public String toString() {
        return source;
    }
}
