package org.lmcache4j.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code --name value} and {@code --flag} options. Every option a command reads is declared by
 * reading it; {@link #finish()} then rejects anything left over, so a typo is an error, not a
 * silently ignored setting. Until then an option is not known to be unknown, so a name with no
 * value after it ({@code --jsn} at the end, or before another option) is only an error once it is
 * read (it needs a value) or left over (it is unknown, and the closest known option is suggested).
 */
final class Args {
    private final String command;
    private final Map<String, String> values = new HashMap<>();
    private final Set<String> flags = new HashSet<>();
    /** Names given with no value after them, in order. */
    private final Set<String> bare = new LinkedHashSet<>();
    private final Set<String> read = new HashSet<>();
    private final List<String> given = new ArrayList<>();
    private final List<String> positional = new ArrayList<>();
    private final List<String> argv;

    /**
     * @param command   the command the options belong to, for messages
     * @param flagNames the options that never take a value
     */
    Args(String command, List<String> argv, Set<String> flagNames) {
        this.command = command;
        this.argv = List.copyOf(argv);
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
                name = name.substring(0, eq);
            } else if (flagNames.contains(name)) {
                flags.add(name);
            } else if (i + 1 < argv.size() && !argv.get(i + 1).startsWith("--")) {
                values.put(name, argv.get(++i));
            } else {
                bare.add(name);
            }
            given.add(name);
        }
    }

    boolean flag(String name) {
        read.add(name);
        return flags.contains(name);
    }

    Optional<String> string(String name) {
        read.add(name);
        if (bare.contains(name)) {
            throw new IllegalArgumentException("--" + name + " needs a value");
        }
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

    /** The command's arguments as given (for a child process that runs the same command). */
    List<String> argv() {
        return argv;
    }

    List<String> positional() {
        return positional;
    }

    /** Rejects the first option given that nobody read, suggesting the known option closest to it. */
    void finish() {
        for (String name : given) {
            if (!read.contains(name)) {
                throw new IllegalArgumentException(unknown(name));
            }
        }
    }

    private String unknown(String name) {
        String message = "unknown option --" + name;
        List<String> longer = read.stream().filter(known -> known.startsWith(name)).sorted().toList();
        if (!longer.isEmpty() && longer.size() <= 3) {
            return message + " (did you mean --" + String.join(" or --", longer) + "?)";
        }
        Optional<String> closest = read.stream()
                .min(Comparator.comparingInt((String known) -> distance(name, known)).thenComparing(known -> known));
        if (closest.isPresent() && distance(name, closest.get()) <= Math.max(2, name.length() / 3)) {
            return message + " (did you mean --" + closest.get() + "?)";
        }
        return message + " (lmcache4j " + command + " --help lists the options)";
    }

    /** Edits (insert, delete, replace, swap two neighbours) that turn {@code a} into {@code b}. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    private static long parse(String name, String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a whole number, got '" + s + "'");
        }
    }
}
