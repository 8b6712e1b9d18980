package org.lmcache4j.cli;

import org.lmcache4j.KvLayout;
import org.lmcache4j.disk.DiskCheck;
import org.lmcache4j.keys.ChunkHasher;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code lmcache4j disk check DIR [--repair]}: verifies every record of a disk tier directory. */
final class DiskCommand {
    static final String USAGE = """
            lmcache4j disk check DIR [options]   verify every record: good, corrupt, foreign
              --repair             remove corrupt records and temporary files left by a crash
              --model NAME, --chunk-size N and the model shape options of replay name the records
                                   that are this engine's (others are foreign)
              --json               print one JSON object
            """;

    /** The check itself: {@link DiskCheck#check}, or a stand-in in tests. */
    interface Checker {
        DiskCheck.Report check(Path dir, byte[] namespace, boolean repair) throws IOException;
    }

    private final Args args;
    private final PrintStream out;
    private final PrintStream err;
    private final boolean terminal;
    private final Checker checker;
    private final Duration progressEvery;

    /**
     * @param terminal whether {@code err} is a terminal: only then does a long check show its progress
     */
    DiskCommand(Args args, PrintStream out, PrintStream err, boolean terminal) {
        this(args, out, err, terminal, DiskCheck::check, Duration.ofMillis(500));
    }

    DiskCommand(Args args, PrintStream out, PrintStream err, boolean terminal, Checker checker,
                Duration progressEvery) {
        this.args = args;
        this.out = out;
        this.err = err;
        this.terminal = terminal;
        this.checker = checker;
        this.progressEvery = progressEvery;
    }

    int run() {
        List<String> words = args.positional();
        if (words.size() != 2 || !words.getFirst().equals("check")) {
            throw new IllegalArgumentException("usage: lmcache4j disk check DIR [--repair] [--json]");
        }
        Path dir = Path.of(words.get(1));
        KvLayout layout = LayoutOptions.layout(args, 1);
        int chunkSize = args.integer("chunk-size", 256, 1);
        String model = args.string("model").orElse(ReplayCommand.DEFAULT_MODEL);
        boolean repair = args.flag("repair");
        boolean json = args.flag("json");
        args.finish();
        byte[] namespace = new ChunkHasher(model, 1, 0, chunkSize, layout).namespaceFingerprint();
        DiskCheck.Report report;
        try (CheckProgress progress = terminal ? CheckProgress.start(dir, err, progressEvery) : null) {
            report = checker.check(dir, namespace, repair);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot check " + dir + ": " + e.getMessage());
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("directory", dir.toString());
        r.put("good", report.good());
        r.put("good_bytes", report.goodBytes());
        r.put("corrupt", report.corrupt());
        r.put("foreign", report.foreign());
        r.put("temporary", report.temporary());
        r.put("repaired", report.repaired());
        r.put("corrupt_files", report.corruptFiles());
        if (json) {
            out.println(Json.write(r));
        } else {
            out.printf("%s: %d good records (%s), %d corrupt, %d foreign, %d temporary files%s%n", dir,
                    report.good(), Units.size(report.goodBytes()), report.corrupt(), report.foreign(),
                    report.temporary(), report.repaired() ? " (corrupt and temporary files removed)" : "");
            report.corruptFiles().forEach(f -> out.println("  corrupt: " + f));
        }
        return report.corrupt() > 0 && !repair ? 1 : 0;
    }
}
