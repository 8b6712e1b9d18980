package org.lmcache4j.cli;

/**
 * SIGTERM and SIGINT as a request to stop, for a command that must end cleanly and exit 0 (the
 * JVM's own handling runs shutdown hooks and exits 143). {@code sun.misc.Signal} is the JDK's
 * supported way to do so (module jdk.unsupported); where it refuses a signal (the JVM runs with
 * {@code -Xrs}), a shutdown hook runs the stop instead.
 */
@SuppressWarnings("removal")
final class StopSignals {
    private StopSignals() {
    }

    static void install(Runnable stop) {
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> stop.run());
            } catch (IllegalArgumentException e) {
                Runtime.getRuntime().addShutdownHook(new Thread(stop));
                return;
            }
        }
    }
}
