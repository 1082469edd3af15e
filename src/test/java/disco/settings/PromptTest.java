package disco.settings;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PromptTest {
    @Test
    void splitsOnTheLastColon() {
        assertEquals(new Prompt("a red fox", 2.0), Prompt.parse("a red fox:2"));
        assertEquals(new Prompt("a red fox", 1.0), Prompt.parse("a red fox"));
        assertEquals(new Prompt("ratio 16:9 poster", -0.5), Prompt.parse("ratio 16:9 poster:-0.5"));
        assertEquals(new Prompt("Steampunk.", 2.0), Prompt.parse("Steampunk.: 2 "));
    }

    @Test
    void urlsKeepTheirSchemeColon() {
        assertEquals(new Prompt("https://example.com/a.png", 1.0), Prompt.parse("https://example.com/a.png"));
        assertEquals(new Prompt("https://example.com/a.png", 3.0), Prompt.parse("https://example.com/a.png:3"));
        assertEquals(new Prompt("http://host:8080/a.png", 0.5), Prompt.parse("http://host:8080/a.png:0.5"));
    }

    @Test
    void aSuffixThatIsNotANumberIsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Prompt.parse("Style: cubism"));
        assertTrue(e.getMessage().contains("Style: cubism"), e.getMessage());
    }

    @Test
    void weightsAreDividedByTheAbsoluteSum() {
        List<Prompt> n = Prompt.normalize(Prompt.parseAll(List.of("a:2", "b:1", "c:-0.5")));
        assertEquals(2 / 2.5, n.get(0).weight(), 0);
        assertEquals(1 / 2.5, n.get(1).weight(), 0);
        assertEquals(-0.5 / 2.5, n.get(2).weight(), 0);
        List<Prompt> neg = Prompt.normalize(Prompt.parseAll(List.of("a:-2", "b:1")));
        assertEquals(-2.0, neg.get(0).weight(), 0);
        assertEquals(1.0, neg.get(1).weight(), 0);
    }

    @Test
    void weightsSummingToZeroAreAnErrorNamingThePrompts() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Prompt.normalize(Prompt.parseAll(List.of("sunny beach:1", "stormy sea:-1"))));
        assertTrue(e.getMessage().contains("sunny beach") && e.getMessage().contains("stormy sea"), e.getMessage());
        assertTrue(e.getMessage().contains("sum to 0"), e.getMessage());
    }
}
