package org.lmcache4j.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code --name value} and {@code --flag} options. Every option a command reads is declared by
 * reading it; {@link #finish()} then rejects anything left over, so a typo is an error, not a
 * silently ignored setting.
 */
final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final Set<String> flags = new HashSet<>();
    private final Set<String> read = new HashSet<>();
    private final List<String> positional = new ArrayList<>();

    Args(List<String> argv, Set<String> flagNames) {
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            if (!a.startsWith("--")) {
                positional.add(a);
                continue;
            }
            String name = a.substring(2);
            int eq = name.indexOf('=');
            if (eq >= 0) {
                values.put(name.substring(0, eq), name.substring(eq + 1));
            } else if (flagNames.contains(name)) {
                flags.add(name);
            } else if (i + 1 < argv.size()) {
                values.put(name, argv.get(++i));
            } else {
                throw new IllegalArgumentException("--" + name + " needs a value");
            }
        }
    }

    boolean flag(String name) {
        read.add(name);
        return flags.contains(name);
    }

    Optional<String> string(String name) {
        read.add(name);
        return Optional.ofNullable(values.get(name));
    }

    int integer(String name, int dflt, int min) {
        long v = string(name).map(s -> parse(name, s)).orElse((long) dflt);
        if (v < min || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--" + name + " must be at least " + min + ", got " + v);
        }
        return (int) v;
    }

    Optional<Double> decimal(String name) {
        return string(name).map(s -> {
            try {
                double d = Double.parseDouble(s.trim());
                if (!Double.isFinite(d) || d < 0) {
                    throw new NumberFormatException();
                }
                return d;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--" + name + " must be a non-negative number, got '" + s + "'");
            }
        });
    }

    List<String> positional() {
        return positional;
    }

    /** Rejects options nobody read. */
    void finish() {
        for (String name : values.keySet()) {
            if (!read.contains(name)) {
                throw new IllegalArgumentException("unknown option --" + name);
            }
        }
        for (String name : flags) {
            if (!read.contains(name)) {
                throw new IllegalArgumentException("unknown option --" + name);
            }
        }
    }

    private static long parse(String name, String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a whole number, got '" + s + "'");
        }
    }
}
