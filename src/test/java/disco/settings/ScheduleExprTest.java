package disco.settings;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScheduleExprTest {
    @Test
    void repeatedListsConcatenate() {
        Schedule s = ScheduleExpr.parse("[12]*400+[4]*600");
        assertEquals(12, s.integer(0));
        assertEquals(12, s.integer(399));
        assertEquals(4, s.integer(400));
        assertEquals(4, s.integer(999));
        assertEquals(Schedule.Kind.INT, s.kind(0));
    }

    @Test
    void countsTakeIntegerArithmeticWithParentheses() {
        Schedule s = ScheduleExpr.parse("[True]*(1000-400) + [False] * ((2+2)*100)");
        assertTrue(s.bool(599));
        assertFalse(s.bool(600));
        assertEquals(Schedule.Kind.BOOL, s.kind(0));
    }

    @Test
    void intTimesListAndMultiElementLists() {
        Schedule s = ScheduleExpr.parse("500*[1, 2] ");
        assertEquals(1, s.integer(0));
        assertEquals(2, s.integer(1));
        assertEquals(2, s.integer(999));
    }

    @Test
    void floatsAndMixedKinds() {
        Schedule s = ScheduleExpr.parse("[0.2]*400+[0]*600");
        assertEquals(0.2, s.number(0));
        assertEquals(Schedule.Kind.FLOAT, s.kind(0));
        assertEquals(0.0, s.number(400));
        assertEquals(Schedule.Kind.INT, s.kind(400));
        assertEquals(1e-3, ScheduleExpr.parse("[1e-3]*1000").number(5));
        assertEquals(0.5, ScheduleExpr.parse("[.5]*1000").number(5));
    }

    @Test
    void bareScalarsBroadcast() {
        Schedule one = ScheduleExpr.parse("1.");
        assertEquals(1.0, one.number(0));
        assertEquals(1.0, one.number(999));
        assertEquals(Schedule.Kind.FLOAT, one.kind(3));
        assertEquals(5000, ScheduleExpr.parse("5000").integer(500));
        assertTrue(ScheduleExpr.parse("True").bool(999));
        assertFalse(ScheduleExpr.parse("False").bool(0));
        assertEquals(-3, ScheduleExpr.parse("-(1+2)").integer(0));
        assertEquals(2, ScheduleExpr.parse("True+True").integer(0)); // Python: bools add as ints
    }

    @Test
    void trailingCommaEmptyListsAndNegativeEntries() {
        Schedule s = ScheduleExpr.parse("[-1, ]*1000 + []");
        assertEquals(-1, s.integer(999));
        assertEquals(0, ScheduleExpr.parse("[1]*-5 + [0]*1000").integer(0)); // negative repeat: empty, as Python
    }

    @Test
    void aThousandEntryLiteral() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < 1000; i++) sb.append(i).append(i < 999 ? ", " : "]");
        Schedule s = ScheduleExpr.parse(sb.toString());
        assertEquals(0, s.integer(0));
        assertEquals(999, s.integer(999));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "[4]*400+[2                  | column 11",
            "[4]*400+[2]*                | column 13",
            "[4]*400+[2]*600)            | column 16",
            "__import__('os')            | column 1",
            "[1]*1000 + 1                | cannot add a list and a number",
            "[1]*2.5+[1]*998             | whole number",
            "[[1]]*1000                  | column 2",
            "[1]**1000                   | '**'",
            "[01]*1000                   | leading zeros",
            "[1]*1000000000              | entries",
            "[1]*1000 - [1]              | cannot subtract",
            "[yes]*1000                  | unknown name 'yes'",
            "[1]*1000;                   | column 9",
            "[1 2]*500                   | column 4",
            "[1e]*1000                   | exponent",
    })
    void syntaxErrorsNameThePosition(String src, String expected) {
        ScheduleExpr.ScheduleException e = assertThrows(ScheduleExpr.ScheduleException.class,
                () -> ScheduleExpr.parse(src.strip()));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void lowercaseTrueAndFalseAreBooleans() {
        Schedule s = ScheduleExpr.parse("[true]*400+[false]*600");
        assertTrue(s.bool(0));
        assertFalse(s.bool(400));
        assertTrue(ScheduleExpr.parse("true").bool(999));
    }

    @Test
    void deepNestingIsAnErrorNotAStackOverflow() {
        String deep = "(".repeat(100_000) + "1" + ")".repeat(100_000);
        ScheduleExpr.ScheduleException e = assertThrows(ScheduleExpr.ScheduleException.class, () -> ScheduleExpr.parse(deep));
        assertTrue(e.getMessage().contains("nested more than " + ScheduleExpr.MAX_DEPTH), e.getMessage());
        assertTrue(e.getMessage().length() < 300, "the source is abbreviated: " + e.getMessage().length());
        assertThrows(ScheduleExpr.ScheduleException.class, () -> ScheduleExpr.parse("-".repeat(100_000) + "1"));
        // within the limit it still parses
        assertEquals(3, ScheduleExpr.parse("(".repeat(150) + "3" + ")".repeat(150)).integer(0));
    }

    @Test
    void emptyTextIsAnError() {
        assertThrows(ScheduleExpr.ScheduleException.class, () -> ScheduleExpr.parse("  "));
    }

    @Test
    void wrongLengthShowsTheLength() {
        ScheduleExpr.ScheduleException e = assertThrows(ScheduleExpr.ScheduleException.class,
                () -> ScheduleExpr.parse("[4]*400+[2]*599"));
        assertTrue(e.getMessage().contains("999 entries"), e.getMessage());
        e = assertThrows(ScheduleExpr.ScheduleException.class, () -> ScheduleExpr.parse("[True]*(1000+1)"));
        assertTrue(e.getMessage().contains("1001 entries"), e.getMessage());
    }

    @Test
    void windowsInPercentAndIndices() {
        Schedule a = ScheduleExpr.parseModelSchedule("0-40%");
        assertTrue(a.bool(0));
        assertTrue(a.bool(399));
        assertFalse(a.bool(400));
        Schedule b = ScheduleExpr.parseModelSchedule("20%-100%");
        assertFalse(b.bool(199));
        assertTrue(b.bool(200));
        assertTrue(b.bool(999));
        Schedule c = ScheduleExpr.parseModelSchedule(" 0 - 400 ");
        assertTrue(c.bool(399));
        assertFalse(c.bool(400));
        Schedule d = ScheduleExpr.parseModelSchedule("12.5%-50%");
        assertFalse(d.bool(124));
        assertTrue(d.bool(125));
        // the schedule language still works for models
        Schedule e = ScheduleExpr.parseModelSchedule("[False]*200+[True]*800");
        assertFalse(e.bool(199));
        assertTrue(e.bool(200));
    }

    @Test
    void badWindows() {
        assertThrows(ScheduleExpr.ScheduleException.class, () -> ScheduleExpr.parseModelSchedule("40%-20%"));
        assertThrows(ScheduleExpr.ScheduleException.class, () -> ScheduleExpr.parseModelSchedule("0-1200"));
        assertThrows(ScheduleExpr.ScheduleException.class, () -> ScheduleExpr.parseModelSchedule("0-120%"));
        assertThrows(ScheduleExpr.ScheduleException.class, () -> ScheduleExpr.parseModelSchedule("0-40.5"));
        // a scalar schedule never takes the window form: "0-400" is arithmetic there (Python's -400)
        assertEquals(-400, ScheduleExpr.parse("0-400").integer(0));
    }

    @Test
    void scheduledScalarsCheckTheirType() {
        assertThrows(IllegalArgumentException.class, () -> Scheduled.CUT_OVERVIEW.parse("[0.5]*1000"));
        assertThrows(IllegalArgumentException.class, () -> Scheduled.CUTN_BATCHES.parse("0"));
        assertThrows(IllegalArgumentException.class, () -> Scheduled.CUT_INNERCUT.parse("[-1]*1000"));
        assertEquals(4, Scheduled.CUTN_BATCHES.parse("4").integer(0));
        assertEquals(1, Scheduled.CUT_OVERVIEW.parse("True").integer(0)); // a bool is an int in Python
        for (Scheduled s : Scheduled.values()) s.parse(s.defaultSource());
    }
}
