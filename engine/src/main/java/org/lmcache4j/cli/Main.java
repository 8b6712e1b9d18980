package org.lmcache4j.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The {@code lmcache4j} command line: {@code replay} (the main job), {@code simulate}, {@code info},
 * {@code disk check} and {@code server}.
 */
public final class Main {
    private static final Set<String> FLAGS = Set.of("json", "verbose", "help", "repair");
    private static final String USAGE = "usage: lmcache4j <command> [options]\n\n"
            + ReplayCommand.USAGE + "\n" + SimulateCommand.USAGE + "\n" + InfoCommand.USAGE + "\n" + DiskCommand.USAGE
            + "\n" + ServerCommand.USAGE;

    private Main() {
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** Runs one command; returns its exit status (2 for bad usage). */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        List<String> all = Arrays.asList(argv);
        configureLogging(all.contains("--verbose"));
        if (all.isEmpty() || all.contains("--help") || all.contains("-h") || all.getFirst().equals("help")) {
            out.print(USAGE);
            return all.isEmpty() ? 2 : 0;
        }
        try {
            String command = all.getFirst();
            Args args = new Args(command, all.subList(1, all.size()), FLAGS);
            if (!command.equals("disk") && !args.positional().isEmpty()) {
                throw new IllegalArgumentException("unexpected argument '" + args.positional().getFirst() + "'");
            }
            return switch (command) {
                case "replay" -> new ReplayCommand(args, out, err).run();
                case "simulate" -> new SimulateCommand(args, out, err, 2_000_000_000L).run();
                case "info" -> new InfoCommand(args, out).run();
                case "disk" -> new DiskCommand(args, out, err, err == System.err && onTerminal()).run();
                case "server" -> new ServerCommand(args, err).run();
                default -> throw new IllegalArgumentException("unknown command '" + command
                        + "' (commands: replay, simulate, info, disk, server)");
            };
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println("lmcache4j: " + e.getMessage());
            return 2;
        }
    }

    /** Whether the process runs on a terminal (a person watching), where a long command shows progress. */
    private static boolean onTerminal() {
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    /** slf4j-simple reads these once, at its first logger: set them before anything logs. */
    private static void configureLogging(boolean verbose) {
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        System.setProperty("org.slf4j.simpleLogger.log.org.lmcache4j.requests", verbose ? "debug" : "warn");
    }
}
