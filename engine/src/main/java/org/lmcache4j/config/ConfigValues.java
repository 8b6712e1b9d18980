package org.lmcache4j.config;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Turns a value as users write it (a YAML scalar, or the text of an environment variable) into the
 * Java value of a key. A value that cannot be read throws {@link IllegalArgumentException} whose
 * message is only the reason ("is not a number"); {@link ConfigKey} adds the key, the value and
 * where it came from, because only it knows them.
 */
final class ConfigValues {

    private static final Pattern URL = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*://.+");

    private ConfigValues() {
    }

    static boolean toBool(Object raw) {
        if (raw instanceof Boolean b) {
            return b;
        }
        // Python's str(True) is "True" and Helm charts write "True": case does not matter.
        return switch (required(raw).toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes", "on" -> true;
            case "false", "0", "no", "off" -> false;
            default -> throw new IllegalArgumentException("is not a boolean (use true or false)");
        };
    }

    static int toInt(Object raw) {
        BigDecimal n = decimal(raw, "is not an integer");
        try {
            return n.intValueExact();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(n.stripTrailingZeros().scale() > 0
                    ? "is not an integer" : "is out of range for an integer");
        }
    }

    /** A size in GB; fractions are fine, negative sizes are not. */
    static double toGigabytes(Object raw) {
        double gb = decimal(raw, "is not a number; write sizes in GB as 20 or 2.5").doubleValue();
        if (gb < 0) {
            throw new IllegalArgumentException("is negative: a size must be 0 or more GB");
        }
        return gb;
    }

    static double toFraction(Object raw) {
        double d = decimal(raw, "is not a number").doubleValue();
        if (!(d > 0 && d <= 1)) {
            throw new IllegalArgumentException("is not a fraction in (0, 1]");
        }
        return d;
    }

    static String toText(Object raw) {
        return required(raw);
    }

    /** Null, empty, {@code None} (Python's null, as users carry it over) and {@code null}: unset. */
    static String toOptionalText(Object raw) {
        if (raw == null) {
            return null;
        }
        String s = text(raw);
        return s.isEmpty() || s.equalsIgnoreCase("none") || s.equalsIgnoreCase("null") ? null : s;
    }

    /** A directory, or a {@code file://} URL of one (LMCache's documented spelling). */
    static String toDiskPath(Object raw) {
        String s = toOptionalText(raw);
        if (s == null) {
            return null;
        }
        if (s.startsWith("file://")) {
            s = s.substring("file://".length());
            if (s.isEmpty()) {
                throw new IllegalArgumentException("names no directory after file://");
            }
        } else if (URL.matcher(s).matches()) {
            throw new IllegalArgumentException("is not a directory or a file:// URL");
        }
        return s;
    }

    static String toUrl(Object raw) {
        String s = toOptionalText(raw);
        if (s != null && !URL.matcher(s).matches()) {
            throw new IllegalArgumentException("is not a URL of the form scheme://host:port");
        }
        return s;
    }

    /** A mapping from YAML, or the JSON object text of {@code LMCACHE_EXTRA_CONFIG}. */
    static Map<String, Object> toMap(Object raw) {
        Object value = raw;
        if (raw instanceof String s) {
            if (toOptionalText(s) == null) {
                return Map.of();
            }
            try {
                value = yaml().load(s);
            } catch (YAMLException e) {
                throw new IllegalArgumentException("is not valid JSON: " + yamlProblem(e));
            }
        }
        if (value == null) {
            return Map.of();
        }
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("is not a mapping (write a JSON object such as {\"key\": 1})");
        }
        // The engine's configuration is immutable and holds no nulls: a null entry reads as absent.
        Map<String, Object> out = new LinkedHashMap<>();
        map.forEach((k, v) -> {
            if (v != null) {
                out.put(String.valueOf(k), v);
            }
        });
        return out;
    }

    /** Whether a value leaves a feature off: LMCache keys we do not implement may say so silently. */
    static boolean isOff(Object raw) {
        if (raw == null || raw instanceof Boolean b && !b) {
            return true;
        }
        if (raw instanceof Map<?, ?> m) {
            return m.isEmpty();
        }
        if (raw instanceof List<?> l) {
            return l.isEmpty();
        }
        String s = text(raw).toLowerCase(Locale.ROOT);
        return List.of("", "false", "0", "0.0", "no", "off", "none", "null").contains(s);
    }

    /**
     * Environment values may carry one pair of quotes ({@code LMCACHE_REMOTE_SERDE='"naive"'});
     * LMCache strips them, and so do we.
     */
    static String unquote(String value) {
        String s = value.strip();
        if (s.length() >= 2 && (s.charAt(0) == '"' || s.charAt(0) == '\'') && s.charAt(s.length() - 1) == s.charAt(0)) {
            return s.substring(1, s.length() - 1);
        }
        return s;
    }

    /** A loader that builds plain maps, lists and scalars only, and refuses duplicate keys. */
    static Yaml yaml() {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        return new Yaml(new SafeConstructor(options));
    }

    /** The error a user sees: what went wrong, then where the value came from. */
    static IllegalArgumentException fromSource(String message, String source, Throwable cause) {
        return new IllegalArgumentException(message + " (from " + source + ")", cause);
    }

    /** SnakeYAML's message on one line: what it was doing, what it found, and where. */
    static String yamlProblem(YAMLException e) {
        if (e instanceof MarkedYAMLException m && m.getProblem() != null) {
            Mark at = m.getProblemMark();
            return (m.getContext() == null ? "" : m.getContext() + ": ") + m.getProblem()
                    + (at == null ? "" : " at line " + (at.getLine() + 1) + ", column " + (at.getColumn() + 1));
        }
        String message = String.valueOf(e.getMessage());
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }

    private static BigDecimal decimal(Object raw, String reason) {
        if (raw instanceof Double d && !Double.isFinite(d) || raw instanceof Float f && !Float.isFinite(f)) {
            throw new IllegalArgumentException("is not a finite number");
        }
        if (raw instanceof Boolean || raw instanceof Map<?, ?> || raw instanceof List<?>) {
            throw new IllegalArgumentException(reason);
        }
        try {
            // BigDecimal, unlike Double.parseDouble, refuses "NaN", "Infinity", "20d" and hex.
            return new BigDecimal(required(raw));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(reason);
        }
    }

    private static String required(Object raw) {
        String s = text(raw);
        if (s.isEmpty()) {
            throw new IllegalArgumentException("has no value");
        }
        return s;
    }

    private static String text(Object raw) {
        if (raw instanceof Map<?, ?> || raw instanceof List<?>) {
            throw new IllegalArgumentException("is a " + (raw instanceof Map<?, ?> ? "mapping" : "list")
                    + ", not a single value");
        }
        return raw == null ? "" : String.valueOf(raw).strip();
    }
}
