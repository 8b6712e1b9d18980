package org.lmcache4j.remote;

import org.lmcache4j.Ticker;

import java.util.concurrent.TimeUnit;

/**
 * Error replies ({@link RedisRefusal}), logged at most once a minute per reason. A refusing Redis
 * refuses command after command (it used to log a line for each, and another when PING answered);
 * one WARN per reason a minute says what and why, and each later one how many more were refused
 * since. Time comes from an injected {@link Ticker}, so tests step through the minute instead of
 * waiting it out.
 *
 * <pre>
 * remote tier redis://h:6379: Redis refused a write (OOM command not allowed …): &lt;what to do&gt;;
 *     the tier stays up and reads go on. …
 * remote tier redis://h:6379: Redis refused 7 more commands (oom) in the last 61 s, the last a write (OOM …): &lt;what to do&gt;
 * </pre>
 */
final class RefusalLog {
    static final long INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final String url;
    private final Ticker ticker;
    private final RemoteLog log;
    private final Gate[] gates = new Gate[RedisRefusal.values().length];

    /** One reason's state: when it was last logged, and how many refusals since. */
    private static final class Gate {
        boolean warned;
        long lastNanos;
        long since;
    }

    RefusalLog(String url, Ticker ticker, RemoteLog log) {
        this.url = url;
        this.ticker = ticker;
        this.log = log;
        for (int i = 0; i < gates.length; i++) {
            gates[i] = new Gate();
        }
    }

    /** Redis refused a {@code command} ("write", "read", "lookup") with {@code reply}: logs it unless logged lately. */
    void refused(String command, RedisRefusal reason, String reply) {
        Gate g = gates[reason.ordinal()];
        long more;
        long elapsed;
        boolean first;
        synchronized (g) {
            g.since++;
            long now = ticker.nanos();
            if (g.warned && now - g.lastNanos < INTERVAL_NANOS) {
                return;
            }
            first = !g.warned;
            more = g.since;
            elapsed = now - g.lastNanos;
            g.warned = true;
            g.lastNanos = now;
            g.since = 0;
        }
        String hint = reason.hint(reply);
        String what = hint.isEmpty() ? "" : ": " + hint;
        if (first) {
            String after = command.equals("write")
                    ? "; the tier stays up and reads go on. While writes are refused, one is tried every 1 to 10 s"
                    + " and the others are dropped (lmcache:remote_writes_dropped); refused ones are counted in"
                    + " lmcache:remote_write_refusals{reason=\"" + reason.tag + "\"}"
                    : "; the tier stays up, and a refused read is a miss (lmcache:remote_read_failures)";
            log.warn("remote tier " + url + ": Redis refused a " + command + " (" + reply + ")" + what + after
                    + ". Logged at most once a minute per reason");
        } else {
            log.warn("remote tier " + url + ": Redis refused " + more + " more " + (more == 1 ? "command" : "commands")
                    + " (" + reason.tag + ") in the last " + TimeUnit.NANOSECONDS.toSeconds(elapsed)
                    + " s, the last a " + command + " (" + reply + ")" + what);
        }
    }
}
