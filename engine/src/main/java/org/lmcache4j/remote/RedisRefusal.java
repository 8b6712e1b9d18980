package org.lmcache4j.remote;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;

import java.util.Locale;

/**
 * Why Redis answered a command with an error instead of doing it. An error reply is the server's
 * answer, not an outage: the connection works, reads mostly go on, and marking the tier down would
 * only make it flap (down, PING answers, up, the next write refused, down…). So a refusal is counted
 * and logged at most once a minute per reason ({@link RefusalLog}), and only transport failures
 * (refused or reset connections, timeouts) mark the tier down ({@link RemoteHealth}).
 *
 * <p>The reason is the reply's first word: {@code OOM} (at {@code maxmemory} with nothing to evict),
 * {@code READONLY} (a replica), {@code NOAUTH}/{@code WRONGPASS} (authentication), {@code MISCONF}
 * (the server stops writes after a failed snapshot), anything else. Each reason's {@link #tag} is the
 * {@code reason} tag of {@code lmcache:remote_write_refusals}, in {@link org.lmcache4j.RemoteStats#REFUSAL_REASONS}'s order.
 */
enum RedisRefusal {
    OOM("oom"),
    READONLY("readonly"),
    AUTH("auth"),
    MISCONF("misconf"),
    OTHER("other");

    final String tag;

    RedisRefusal(String tag) {
        this.tag = tag;
    }

    /** The reason of an error reply such as {@code OOM command not allowed when used memory > 'maxmemory'.}. */
    static RedisRefusal of(String reply) {
        String code = reply == null ? "" : reply.strip().split("\\s", 2)[0].toUpperCase(Locale.ROOT);
        return switch (code) {
            case "OOM" -> OOM;
            case "READONLY" -> READONLY;
            case "NOAUTH", "WRONGPASS" -> AUTH;
            case "MISCONF" -> MISCONF;
            default -> OTHER;
        };
    }

    /** What the operator can do about {@code reply}; empty when there is nothing to add to it. */
    String hint(String reply) {
        return switch (this) {
            case OOM -> "Redis is at its maxmemory and cannot make room: raise maxmemory to 3 records at least"
                    + " (Redis counts the record it is receiving), or let it evict (maxmemory-policy allkeys-lru)";
            case READONLY -> "remote_url names a read-only replica: name the master, or use"
                    + " redis-sentinel://host:port#master, which follows fail-overs";
            case AUTH -> reply != null && reply.strip().toUpperCase(Locale.ROOT).startsWith("WRONGPASS")
                    ? "check the user and password in remote_url (redis://user:password@host:port)"
                    : "give the password in remote_url (redis://:password@host:port)";
            case MISCONF -> "Redis stops writes after a failed RDB snapshot (stop-writes-on-bgsave-error):"
                    + " fix its disk or dir, or its save settings";
            case OTHER -> "";
        };
    }

    /**
     * The error reply in {@code failure}'s causes (suppressed ones included: a cluster client reports
     * each seed's failure that way), or null when there is none: a transport failure.
     */
    static RedisCommandExecutionException replyIn(Throwable failure) {
        return find(failure, RedisCommandExecutionException.class, 0);
    }

    /** Whether {@code failure} is lettuce's command timeout (remote_timeout_ms ran out). */
    static boolean timeoutIn(Throwable failure) {
        return find(failure, RedisCommandTimeoutException.class, 0) != null;
    }

    private static <T extends Throwable> T find(Throwable t, Class<T> type, int depth) {
        if (t == null || depth > 8) {
            return null;
        }
        if (type.isInstance(t)) {
            return type.cast(t);
        }
        for (Throwable s : t.getSuppressed()) {
            T found = find(s, type, depth + 1);
            if (found != null) {
                return found;
            }
        }
        return t.getCause() == t ? null : find(t.getCause(), type, depth + 1);
    }
}
