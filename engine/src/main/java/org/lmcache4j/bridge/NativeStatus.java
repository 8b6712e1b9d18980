package org.lmcache4j.bridge;

import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The status codes of the C ABI, {@code enum lmcache4j_status} in {@code native/include/lmcache4j.h}
 * (keep the two in step), and which exception becomes which.
 */
public enum NativeStatus {
    OK(0),
    /** A value the caller passed is wrong: nothing changed. */
    INVALID_ARGUMENT(1),
    /** A call out of order, such as a store before the caches are registered. */
    STATE(2),
    /** The engine handle was closed. */
    CLOSED(3),
    /** No JVM: set by the C side only. */
    JVM(4),
    NO_MEMORY(5),
    /** Something the engine does not do, such as a paged layout whose block rows are not adjacent (HND). */
    UNSUPPORTED(6),
    /** A bug: the message carries the exception. */
    INTERNAL(7);

    /**
     * The engine's messages are written for Java callers and name the Java API's calls; a caller
     * of the C ABI, or of the Python package above it, reads the names of its own API instead.
     */
    private static final Map<String, String> CALLS_IN_C = Map.of(
            "registerKvCaches", "lmcache4j_register_kv_caches (Engine.register_kv_caches in Python)");
    private static final Pattern JAVA_CALL = Pattern.compile("\\b(" + String.join("|", CALLS_IN_C.keySet()) + ")\\b");

    final int code;

    NativeStatus(int code) {
        this.code = code;
    }

    /** Its number in {@code enum lmcache4j_status}. */
    public int code() {
        return code;
    }

    /** The status a failure maps to. */
    public static NativeStatus of(Throwable t) {
        return switch (t) {
            case EngineClosedException ignored -> CLOSED;
            case IllegalArgumentException ignored -> INVALID_ARGUMENT;
            case IllegalStateException ignored -> STATE;
            case UnsupportedOperationException ignored -> UNSUPPORTED;
            case OutOfMemoryError ignored -> NO_MEMORY;
            default -> INTERNAL;
        };
    }

    /**
     * The message a caller sees: the exception's own for the expected kinds (they name the value),
     * with the Java API's calls named as the C ABI names them, and the exception's class and first
     * frame for the rest, which are bugs.
     */
    public static String message(Throwable t) {
        String own = t.getMessage();
        if (of(t) != INTERNAL && own != null && !own.isBlank()) {
            return JAVA_CALL.matcher(own).replaceAll(m -> Matcher.quoteReplacement(CALLS_IN_C.get(m.group(1))));
        }
        StringBuilder sb = new StringBuilder(t.toString());
        StackTraceElement[] frames = t.getStackTrace();
        if (frames.length > 0) {
            sb.append(" at ").append(frames[0]);
        }
        return sb.toString();
    }

    /** The status with this code. */
    static NativeStatus ofCode(int code) {
        for (NativeStatus s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        throw new IllegalArgumentException("no status has code " + code);
    }

    /** An engine handle that was closed: reported as {@link #CLOSED}, not as a call out of order. */
    static final class EngineClosedException extends IllegalStateException {
        EngineClosedException(String message) {
            super(Objects.requireNonNull(message));
        }
    }
}
