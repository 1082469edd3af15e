package disco.run;

import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * SIGINT while a run is in flight: the first Ctrl-C sets a flag the run loop reads after the step in flight (it then
 * writes a checkpoint and exits 130); a second one falls back to the previous handler (the JVM's: exit now).
 */
final class Sigint {
    private Sigint() {}

    /** Installs the handler; returns the previous one (pass it to {@link #restore}). Null when signals are unavailable. */
    static Object install(AtomicBoolean flag) {
        try {
            Signal sig = new Signal("INT");
            SignalHandler[] prev = new SignalHandler[1];
            prev[0] = Signal.handle(sig, s -> {
                if (flag.getAndSet(true) && prev[0] != null && prev[0] != SignalHandler.SIG_IGN
                        && prev[0] != SignalHandler.SIG_DFL) {
                    prev[0].handle(s);
                } else {
                    System.err.println();
                    System.err.println("disco: interrupt: finishing the current step, then writing a checkpoint"
                            + " (Ctrl-C again to quit now)");
                }
            });
            return prev[0];
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return null;
        }
    }

    static void restore(Object previous) {
        if (previous instanceof SignalHandler h) {
            try {
                Signal.handle(new Signal("INT"), h);
            } catch (IllegalArgumentException | UnsupportedOperationException ignored) {
                // nothing to restore
            }
        }
    }
}
