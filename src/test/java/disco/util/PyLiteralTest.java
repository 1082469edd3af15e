package disco.util;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Expected texts are what CPython 3 prints for repr(float) / repr(bool). */
class PyLiteralTest {
    @Test
    void floatsAsPythonWritesThem() {
        String[][] cases = {
                {"0.0", "0.0"}, {"-0.0", "-0.0"}, {"1.0", "1.0"}, {"-2.5", "-2.5"}, {"0.5", "0.5"},
                {"0.0001", "1e-4"}, {"1e-05", "1e-5"}, {"1.5e-07", "1.5e-7"}, {"0.00012", "1.2e-4"},
                {"10000000.0", "1e7"}, {"1000000000000000.0", "1e15"}, {"1e+16", "1e16"}, {"1.5e+16", "1.5e16"},
                {"1.2345678901234567e+19", "12345678901234567890"}, {"1e+100", "1e100"},
                {"0.1", "0.1"}, {"0.30000000000000004", "0.30000000000000004"}, {"123.456", "123.456"},
                {"1.7976931348623157e+308", "1.7976931348623157e308"}};
        for (String[] c : cases) assertEquals(c[0], PyLiteral.ofFloat(Double.parseDouble(c[1])), c[1]);
        assertEquals("nan", PyLiteral.ofFloat(Double.NaN));
        assertEquals("inf", PyLiteral.ofFloat(Double.POSITIVE_INFINITY));
        assertEquals("-inf", PyLiteral.ofFloat(Double.NEGATIVE_INFINITY));
    }

    @Test
    void everyTextReadsBackToTheSameDouble() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (int i = 0; i < 20000; i++) {
            double v = Double.longBitsToDouble(r.nextLong());
            if (!Double.isFinite(v)) continue;
            assertEquals(v, Double.parseDouble(PyLiteral.ofFloat(v)), PyLiteral.ofFloat(v));
        }
    }

    @Test
    void booleans() {
        assertEquals("True", PyLiteral.of(true));
        assertEquals("False", PyLiteral.of(false));
    }
}
